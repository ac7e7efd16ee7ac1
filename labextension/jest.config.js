/**
 * Jest for the TypeScript unit tests (src/__tests__/*.spec.ts[x]), set up as JupyterLab's
 * extension template does: @jupyterlab/testing's config (jsdom with fetch, ts-jest).
 */
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

// apputils' sanitizer alone (ESM; its only import is sanitize-html): the run page's tests use the
// real Sanitizer without loading all of apputils.
const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyterlab/apputils/lib/sanitizer',
  'lib0',
  'nanoid',
  'y-protocols',
  'yjs'
].join('|');

module.exports = {
  ...jestJupyterLab(__dirname),
  automock: false,
  reporters: ['default'],
  testRegex: 'src/__tests__/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
