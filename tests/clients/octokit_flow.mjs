// Drives @octokit/rest through the cache's TCP base URL: paginates every issue of a repository
// and reads the repository twice. Prints one JSON line the Rust test asserts on.
// Usage: node octokit_flow.mjs BASE_URL TOKEN OWNER REPO
import { Octokit } from "@octokit/rest";

const [baseUrl, token, owner, repo] = process.argv.slice(2);
if (!repo) {
  console.error("usage: node octokit_flow.mjs BASE_URL TOKEN OWNER REPO");
  process.exit(2);
}
const octokit = new Octokit({ baseUrl, auth: token, request: { retries: 0 } });
const issues = await octokit.paginate(octokit.rest.issues.listForRepo, { owner, repo, state: "all", per_page: 50 });
const first = await octokit.rest.repos.get({ owner, repo });
const second = await octokit.rest.repos.get({ owner, repo });
console.log(
  JSON.stringify({
    issues: issues.length,
    numbers: issues.map((i) => i.number),
    repo: first.data.full_name,
    x_cache: [first.headers["x-cache"], second.headers["x-cache"]],
  }),
);
