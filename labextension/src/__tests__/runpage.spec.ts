/**
 * The run page's pure helpers: table paging, the JSON tree, the notebook view model (and the
 * cell that made the run), the Markdown renderer, provenance grouping, viewer choice; and the
 * sanitiser (JupyterLab's) against an XSS corpus.
 */
import { buildJsonTree, initiallyOpen, isPlotlyFigure } from '../runpage/jsonTree';
import { formatBytes, viewerKind } from '../runpage/kinds';
import { splitMetricKeys } from '../runpage/MetricCharts';
import { isSafeImage, isSafeLink, markdownToHtml, renderInline } from '../runpage/markdown';
import { bundleView, findTargetCell, outputView, parseNotebook } from '../runpage/notebook';
import { offsetOfPage, pageInfo } from '../runpage/paging';
import { withTheme } from '../runpage/PlotlyView';
import { groupProvenance } from '../runpage/provenance';
import { markdownHtml, sanitizeHtml } from '../runpage/sanitize';

// JupyterLab's real Sanitizer, without the rest of apputils (which jest would have to transform).
jest.mock('@jupyterlab/apputils', () => jest.requireActual('@jupyterlab/apputils/lib/sanitizer'));

describe('pageInfo', () => {
  it('describes a middle page with prev, next and last', () => {
    expect(pageInfo(50, 50, 50, 1234, true)).toEqual({
      label: 'rows 51–100 of 1,234',
      prev: 0,
      next: 100,
      last: 1200,
      page: 2,
      pages: 25
    });
  });
  it('has no prev on the first page and no next or last on the last', () => {
    const first = pageInfo(0, 50, 50, 120, true);
    expect([first.prev, first.next, first.last]).toEqual([null, 50, 100]);
    const last = pageInfo(100, 50, 20, 120, false);
    expect([last.label, last.prev, last.next, last.last, last.page]).toEqual([
      'rows 101–120 of 120',
      50,
      null,
      null,
      3
    ]);
  });
  it('shows an unknown total with a plus and no last page', () => {
    const info = pageInfo(0, 100, 100, null, true);
    expect([info.label, info.pages, info.last, info.next]).toEqual(['rows 1–100 of 100+', null, null, 100]);
  });
  it('says so for an empty table and a page past the end', () => {
    expect(pageInfo(0, 50, 0, 0, false).label).toBe('no rows');
    expect(pageInfo(500, 50, 0, 120, false).label).toBe('no rows at 501 of 120');
  });
  it('turns a typed page number into an offset inside the table', () => {
    expect(offsetOfPage(3, 50, 1000)).toBe(100);
    expect(offsetOfPage(99, 50, 120)).toBe(100);
    expect(offsetOfPage(-4, 50, 120)).toBe(0);
    expect(offsetOfPage(NaN, 50, null)).toBe(0);
    expect(offsetOfPage(7.6, 10, null)).toBe(70);
  });
});

describe('buildJsonTree', () => {
  it('builds nodes with JSON pointers, kinds and summaries', () => {
    const root = buildJsonTree({ a: [1, 'x', null], 'b/c': { d: true } });
    expect(root.text).toBe('{2 keys}');
    const [a, bc] = root.children;
    expect([a.id, a.kind, a.text]).toEqual(['/a', 'array', '[3 items]']);
    expect(a.children.map(c => [c.id, c.kind, c.text])).toEqual([
      ['/a/0', 'number', '1'],
      ['/a/1', 'string', '"x"'],
      ['/a/2', 'null', 'null']
    ]);
    expect([bc.id, bc.key, bc.children[0].text]).toEqual(['/b~1c', 'b/c', 'true']);
  });
  it('keeps at most maxChildren and cuts long strings', () => {
    const root = buildJsonTree(
      { list: Array.from({ length: 12 }, (_, i) => i), s: 'y'.repeat(30) },
      {
        maxChildren: 10,
        maxString: 5
      }
    );
    expect(root.children[0].children).toHaveLength(10);
    expect(root.children[0].hidden).toBe(2);
    expect(root.children[1].text).toBe('"yyyyy…"');
  });
  it('keeps markup as text', () => {
    const root = buildJsonTree({ '<img src=x onerror=alert(1)>': '<script>x</script>' });
    expect(root.children[0].key).toBe('<img src=x onerror=alert(1)>');
    expect(root.children[0].text).toBe('"<script>x</script>"');
  });
  it('opens the first levels', () => {
    const root = buildJsonTree({ a: { b: { c: 1 } } });
    expect([...initiallyOpen(root, 2)]).toEqual(['', '/a']);
  });
  it('recognises a Plotly figure', () => {
    expect(isPlotlyFigure({ data: [{ type: 'scatter', x: [1] }], layout: {} })).toBe(true);
    expect(isPlotlyFigure({ data: [1, 2], layout: {} })).toBe(false);
    expect(isPlotlyFigure({ data: [] })).toBe(false);
    expect(isPlotlyFigure([1])).toBe(false);
  });
});

const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { language_info: { name: 'python' } },
  cells: [
    { cell_type: 'markdown', id: 'intro', metadata: {}, source: ['# Title\n', 'text'] },
    {
      cell_type: 'code',
      id: 'train',
      metadata: {},
      execution_count: 3,
      source: 'fit()\n',
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['\u001b[32mok\u001b[0m\n'] },
        {
          output_type: 'execute_result',
          execution_count: 3,
          data: { 'text/plain': '42', 'text/html': '<b>42</b>' }
        },
        { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=\n', 'text/plain': '<Figure>' } },
        {
          output_type: 'error',
          ename: 'ValueError',
          evalue: 'bad',
          traceback: ['\u001b[31mValueError\u001b[0m: bad']
        }
      ]
    },
    { cell_type: 'code', id: 'other', metadata: {}, execution_count: null, source: 'print(1)', outputs: [] }
  ]
};

describe('parseNotebook', () => {
  it('turns cells and outputs into a view model', () => {
    const view = parseNotebook(NOTEBOOK);
    expect(view.language).toBe('python');
    expect(view.cells.map(c => [c.index, c.id, c.type, c.executionCount])).toEqual([
      [0, 'intro', 'markdown', null],
      [1, 'train', 'code', 3],
      [2, 'other', 'code', null]
    ]);
    expect(view.cells[0].source).toBe('# Title\ntext');
    expect(view.cells[1].outputs).toEqual([
      { kind: 'text', text: 'ok\n', stream: 'stdout' },
      { kind: 'html', html: '<b>42</b>' },
      { kind: 'image', mime: 'image/png', src: 'data:image/png;base64,iVBORw0KGgo=' },
      { kind: 'error', text: 'ValueError: bad' }
    ]);
  });
  it('refuses what is not a notebook', () => {
    expect(() => parseNotebook({ hello: 1 })).toThrow('not a Jupyter notebook');
    expect(() => parseNotebook({ nbformat: 3, cells: [] })).toThrow('only format 4');
  });
  it('shows an SVG only as an image and drops raster data that is not base64', () => {
    const svg = bundleView({ 'image/svg+xml': '<svg onload="x()"></svg>' });
    expect(svg?.kind).toBe('image');
    expect((svg as { src: string }).src.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(bundleView({ 'image/png': '"><script>', 'text/plain': 'fallback' })).toEqual({
      kind: 'text',
      text: 'fallback'
    });
    expect(outputView({ output_type: 'unknown' })).toBeNull();
  });
  it('prefers a Plotly figure over its HTML', () => {
    const fig = { data: [{ type: 'bar', y: [1] }], layout: {} };
    expect(bundleView({ 'application/vnd.plotly.v1+json': fig, 'text/html': '<div>' })).toEqual({
      kind: 'plotly',
      figure: fig
    });
  });
});

describe('findTargetCell', () => {
  const view = parseNotebook(NOTEBOOK);
  it('finds the cell by id, and says when its source changed', () => {
    expect(findTargetCell(view, { cellId: 'train', source: 'fit()' })).toEqual({ index: 1, edited: false });
    expect(findTargetCell(view, { cellId: 'train', source: 'fit(epochs=3)' })).toEqual({
      index: 1,
      edited: true
    });
    expect(findTargetCell(view, { cellId: 'train' })).toEqual({ index: 1, edited: false });
  });
  it('falls back to the recorded source, then gives up', () => {
    expect(findTargetCell(view, { cellId: 'gone', source: 'print(1)' })).toEqual({ index: 2, edited: false });
    expect(findTargetCell(view, { cellId: 'gone', source: 'nothing like it' })).toBeNull();
    expect(findTargetCell(view, {})).toBeNull();
  });
  it('matches a source recorded cut at the tag length by its start', () => {
    const long = 'x = 1\n'.repeat(2000);
    const nb = parseNotebook({ nbformat: 4, cells: [{ cell_type: 'code', source: long, outputs: [] }] });
    expect(findTargetCell(nb, { source: long.slice(0, 8000) })).toEqual({ index: 0, edited: false });
  });
});

describe('markdownToHtml', () => {
  it('renders headings, lists, code, emphasis, tables and links', () => {
    const html = markdownToHtml(
      '# Title\n\nSome **bold** and *em* `a<b>`\n\n- one\n- two\n\n1. first\n\n```py\nx < 1\n```\n\n' +
        '| a | b |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.org) > quote'
    );
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong> and <em>em</em> <code>a&lt;b&gt;</code>');
    expect(html).toContain('<ul><li>one</li><li>two</li></ul>');
    expect(html).toContain('<ol><li>first</li></ol>');
    expect(html).toContain('<pre><code class="language-py">x &lt; 1</code></pre>');
    expect(html).toContain(
      '<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>'
    );
    expect(html).toContain(
      '<a href="https://example.org" target="_blank" rel="noopener noreferrer">site</a> &gt; quote'
    );
  });
  it('shows raw HTML as text and drops unsafe URLs', () => {
    const html = markdownToHtml(
      '<img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](JaVa\tScRiPt:alert(2)) ![i](data:text/html,<b>)'
    );
    expect(html).toBe('<p>&lt;img src=x onerror=alert(1)&gt; x) [y](JaVa\tScRiPt:alert(2)) i</p>');
    expect(renderInline('[x](javascript:void) [z](data:text/html,hi)')).toBe('x z');
  });
  it('escapes quotes inside link URLs', () => {
    expect(renderInline('[a](http://x/"onmouseover="y)')).toBe(
      '<a href="http://x/&quot;onmouseover=&quot;y" target="_blank" rel="noopener noreferrer">a</a>'
    );
  });
  it('allows only safe link and image schemes', () => {
    expect(['https://a', '/rel', '#top', 'mailto:a@b', 'page.html'].every(isSafeLink)).toBe(true);
    expect(
      ['javascript:x', ' javascript:x', 'java\nscript:x', 'data:text/html,x', 'vbscript:x'].some(isSafeLink)
    ).toBe(false);
    expect(isSafeImage('data:image/png;base64,AAA')).toBe(true);
    expect(isSafeImage('data:image/svg+xml,<svg>')).toBe(false);
    expect(isSafeImage('javascript:x')).toBe(false);
  });
});

describe('sanitizeHtml (JupyterLab Sanitizer, command linker off)', () => {
  const corpus = [
    '<script>window.__xss=1</script>',
    '<img src=x onerror="window.__xss=2">',
    '<a href="javascript:window.__xss=3">x</a>',
    '<svg onload="window.__xss=4"></svg>',
    '<button data-commandlinker-command="terminal:create-new">x</button>',
    '<iframe src="javascript:window.__xss=5"></iframe>',
    '<form action="javascript:window.__xss=6"><button>go</button></form>',
    '<a href="  JAVASCRIPT:window.__xss=7">y</a>'
  ];
  it.each(corpus)('makes %s inert', dirty => {
    const clean = sanitizeHtml(dirty);
    expect(clean).not.toMatch(/<script|onerror|onload|javascript:|commandlinker|<iframe|action=/i);
  });
  it('keeps harmless markup', () => {
    expect(sanitizeHtml('<b>bold</b> <a href="https://x.org">l</a>')).toContain('<b>bold</b>');
    expect(markdownHtml('**hi** <script>x</script>')).toBe(
      '<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>'
    );
  });
});

describe('groupProvenance', () => {
  it('groups the recorded tags and parses history and packages', () => {
    const prov = groupProvenance({
      'mlnb.notebook.path': 'work/t.ipynb',
      'mlnb.cell.id': 'abc',
      'mlnb.cell.source': 'fit()',
      'mlnb.kernel.history': '1:c1:aaaaaaaaaaaa 2::bbbbbbbbbbbb',
      'mlnb.packages': 'numpy==2.0 pandas==3.1',
      'mlflow.source.git.commit': 'deadbeef',
      'mlnb.weird': 'z',
      team: 'blue'
    });
    expect(prov.notebook).toEqual([
      ['notebook', 'work/t.ipynb'],
      ['cell id', 'abc']
    ]);
    expect(prov.git).toEqual([['commit', 'deadbeef']]);
    expect(prov.history).toEqual([
      { count: '1', cellId: 'c1', hash: 'aaaaaaaaaaaa' },
      { count: '2', cellId: '', hash: 'bbbbbbbbbbbb' }
    ]);
    expect(prov.packages).toEqual(['numpy==2.0', 'pandas==3.1']);
    expect(prov.source).toBe('fit()');
    expect(prov.other).toEqual([['mlnb.weird', 'z']]);
  });
});

describe('viewerKind', () => {
  it.each([
    ['plots/a.PNG', 'image'],
    ['x.svg', 'image'],
    ['README.md', 'markdown'],
    ['t.csv', 'table'],
    ['t.parquet', 'table'],
    ['fig.json', 'json'],
    ['report.html', 'html'],
    ['nb/run.ipynb', 'notebook'],
    ['stdout.txt', 'text'],
    ['model/MLmodel', 'text'],
    ['model.pkl', 'none'],
    ['.hidden', 'none']
  ])('%s -> %s', (path, kind) => expect(viewerKind(path)).toBe(kind));
  it('formats sizes', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(30 * 1024 * 1024), formatBytes(null)]).toEqual([
      '512 B',
      '1.5 KB',
      '30 MB',
      ''
    ]);
  });
});

describe('chart helpers', () => {
  it('puts system metrics apart', () => {
    expect(splitMetricKeys(['val/loss', 'system/cpu', 'acc', 'system/gpu_0_memory'])).toEqual({
      own: ['acc', 'val/loss'],
      system: ['system/cpu', 'system/gpu_0_memory']
    });
  });
  it("lays a chart over the theme's colours, the layout's own settings winning", () => {
    document.body.style.setProperty('--jp-ui-font-color1', 'rgb(230, 230, 230)');
    document.body.style.setProperty('--jp-border-color2', 'rgb(60, 60, 60)');
    const drawn = withTheme({ font: { size: 20 }, xaxis: { title: { text: 'step' }, gridcolor: 'red' } });
    expect(drawn.font).toEqual({ color: 'rgb(230, 230, 230)', size: 20 });
    expect(drawn.xaxis).toEqual({
      gridcolor: 'red',
      zerolinecolor: 'rgb(60, 60, 60)',
      title: { text: 'step' }
    });
    expect(drawn.yaxis).toEqual({ gridcolor: 'rgb(60, 60, 60)', zerolinecolor: 'rgb(60, 60, 60)' });
    expect(drawn.paper_bgcolor).toBe('rgba(0,0,0,0)');
  });
});
