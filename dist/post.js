'use strict';
// The Action's post step (post-if: always()): run `gh-p2p-cache action post` with the binary
// main used (flush and publish, stop the daemon, write the job summary). See lib.js and README.md.
require('./lib').main('post');
