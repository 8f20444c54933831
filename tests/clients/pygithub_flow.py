"""Drives PyGithub through the cache's TCP base URL: paginates every issue of a repository and
reads the repository. Prints one JSON line the Rust test asserts on.

Usage: python3 pygithub_flow.py BASE_URL TOKEN OWNER/REPO
"""
import json
import sys

from github import Auth, Github


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token, full_name = sys.argv[1:]
    gh = Github(base_url=base_url, auth=Auth.Token(token), retry=None, per_page=30)
    repo = gh.get_repo(full_name)
    issues = list(repo.get_issues(state="all"))
    print(json.dumps({"issues": len(issues), "numbers": [i.number for i in issues], "repo": repo.full_name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
