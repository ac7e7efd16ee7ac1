/**
 * Jest for the TypeScript unit tests (src/__tests__/*.spec.ts[x]), set up as JupyterLab's
 * extension template does: @jupyterlab/testing's config (jsdom with fetch, ts-jest).
 */
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

const esModules = ['@codemirror', '@jupyter/ydoc', 'lib0', 'nanoid', 'y-protocols', 'yjs'].join('|');

module.exports = {
  ...jestJupyterLab(__dirname),
  automock: false,
  reporters: ['default'],
  testRegex: 'src/__tests__/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
