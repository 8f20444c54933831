'use strict';
// The Action's main step: obtain the gh-p2p-cache binary and run `gh-p2p-cache action main`
// (warm the cache, start the daemon, point later steps at it). See lib.js and README.md.
require('./lib').main('main');
