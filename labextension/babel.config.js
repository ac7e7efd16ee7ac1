/** Babel, only for the ES modules in node_modules that jest must load (see jest.config.js). */
module.exports = require('@jupyterlab/testing/lib/babel-config');
