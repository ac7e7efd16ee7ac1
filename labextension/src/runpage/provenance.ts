/**
 * A run's provenance tags grouped for the run page (pure; unit-tested).
 */

export interface IProvenance {
  notebook: Array<[string, string]>;
  kernel: Array<[string, string]>;
  git: Array<[string, string]>;
  /** `name==version` of the packages the kernel had imported. */
  packages: string[];
  /** The cells run before this one: execution count, cell id and source hash. */
  history: Array<{ count: string; cellId: string; hash: string }>;
  source: string | null;
  /** Every other `mlnb.*` / `mlflow.*` tag. */
  other: Array<[string, string]>;
}

const GROUPS: Array<[keyof Pick<IProvenance, 'notebook' | 'kernel' | 'git'>, Array<[string, string]>]> = [
  [
    'notebook',
    [
      ['mlnb.notebook.path', 'notebook'],
      ['mlflow.source.name', 'source'],
      ['mlflow.source.type', 'source type'],
      ['mlnb.source', 'tracked by'],
      ['mlnb.cell.id', 'cell id'],
      ['mlnb.cell.execution_count', 'execution count'],
      ['mlnb.cell.sha256', 'cell source sha256']
    ]
  ],
  [
    'kernel',
    [
      ['mlnb.kernel', 'kernel'],
      ['mlnb.python_version', 'Python'],
      ['mlflow.user', 'user'],
      ['mlnb.kernel.history_sha256', 'history sha256'],
      ['mlnb.provenance.error', 'not recorded because']
    ]
  ],
  [
    'git',
    [
      ['mlflow.source.git.commit', 'commit'],
      ['mlflow.source.git.branch', 'branch'],
      ['mlflow.source.git.repoURL', 'repository'],
      ['mlnb.git.dirty', 'uncommitted changes']
    ]
  ]
];

const SHOWN_APART = new Set(['mlnb.cell.source', 'mlnb.packages', 'mlnb.kernel.history']);

/**
 * Group a run's tags into its provenance.
 *
 * @param tags - the run's tags.
 */
export function groupProvenance(tags: Record<string, string>): IProvenance {
  const used = new Set(SHOWN_APART);
  const result: IProvenance = {
    notebook: [],
    kernel: [],
    git: [],
    packages: (tags['mlnb.packages'] ?? '').split(/\s+/).filter(Boolean),
    history: (tags['mlnb.kernel.history'] ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map(entry => {
        const [count = '', cellId = '', hash = ''] = entry.split(':');
        return { count, cellId, hash };
      }),
    source: tags['mlnb.cell.source'] ?? null,
    other: []
  };
  for (const [group, keys] of GROUPS) {
    for (const [key, label] of keys) {
      if (tags[key] !== undefined) {
        result[group].push([label, tags[key]]);
        used.add(key);
      }
    }
  }
  result.other = Object.entries(tags)
    .filter(([k]) => (k.startsWith('mlnb.') || k.startsWith('mlflow.')) && !used.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return result;
}
