// The performance goals (issue 5, issue 17, the fleet's of issue 18) against every recorded run of each, as one
// Markdown table: written by bench/readme.mjs into README.md and docs/performance.md, so the
// figures there are the benchmark's own and no run is left out because it was worse.

/** Each goal: where its figure is (size, row, field) and the bound; `of` picks the figure. */
export const GOALS = [
  { goal: 'N = 1000, W1 at most 1.0 × F1', size: '1000', row: 'W1|godwit', of: (s) => s.xF1, max: 1.0, unit: '×' },
  { goal: 'N = 1000, W1 at most F2 (psql, one transaction)', size: '1000', row: 'W1|godwit', of: (s, all) => all['W1|F2 psql, one tx'] && s.xF1 / all['W1|F2 psql, one tx'].xF1, max: 1.0, unit: '× F2' },
  { goal: 'N = 1000, W1 peak RSS at most 80 MiB', size: '1000', row: 'W1|godwit', of: (s) => s.medianRssMiB, max: 80, unit: 'MiB' },
  { goal: 'N = 1000, W2 (`up`, nothing to do) at most 1.7 × `node -e 0`', size: '1000', row: 'W2|godwit', of: (s) => s.xNode, max: 1.7, unit: '×' },
  { goal: 'N = 1000, W3 (`status`) at most 1.7 × `node -e 0`', size: '1000', row: 'W3|godwit', of: (s) => s.xNode, max: 1.7, unit: '×' },
  { goal: 'N = 1000, W2 faster than dbmate', size: '1000', row: 'W2|godwit', of: (s, all) => all['W2|dbmate'] && s.medianMs / all['W2|dbmate'].medianMs, max: 1.0, unit: '× dbmate' },
  { goal: 'N = 1000, W3 faster than dbmate', size: '1000', row: 'W3|godwit', of: (s, all) => all['W3|dbmate'] && s.medianMs / all['W3|dbmate'].medianMs, max: 1.0, unit: '× dbmate' },
  { goal: 'N = 1000, W4 (`check` in CI) at most 0.35 s', size: '1000', row: 'W4|godwit', of: (s) => s.medianMs / 1000, max: 0.35, unit: 's' },
  { goal: 'N = 1000, W6 `assertSchemaCurrent()` in a running process at most 10 ms', size: '1000', row: 'W6|godwit assertSchemaCurrent in process', of: (s) => s.medianMs, max: 10, unit: 'ms' },
  { goal: 'N = 10000, W1 at most 0.85 × F1', size: '10000', row: 'W1|godwit', of: (s) => s.xF1, max: 0.85, unit: '×' },
  { goal: 'N = 10000, W1 peak RSS at most 80 MiB', size: '10000', row: 'W1|godwit', of: (s) => s.medianRssMiB, max: 80, unit: 'MiB' },
  { goal: 'N = 10000, W2 at most 1.7 × `node -e 0`', size: '10000', row: 'W2|godwit', of: (s) => s.xNode, max: 1.7, unit: '×' },
  { goal: 'N = 10000, W3 at most 1.7 × `node -e 0`', size: '10000', row: 'W3|godwit', of: (s) => s.xNode, max: 1.7, unit: '×' },
  { goal: 'N = 10000, W2 faster than dbmate', size: '10000', row: 'W2|godwit', of: (s, all) => all['W2|dbmate'] && s.medianMs / all['W2|dbmate'].medianMs, max: 1.0, unit: '× dbmate' },
  { goal: 'N = 10000, W3 faster than dbmate', size: '10000', row: 'W3|godwit', of: (s, all) => all['W3|dbmate'] && s.medianMs / all['W3|dbmate'].medianMs, max: 1.0, unit: '× dbmate' },
  { goal: 'N = 10000, F3 (Node only reading and hashing every file), the floor of W2 and W3', size: '10000', row: 'F3 node: read + sha256 every file', of: (s) => s.xNode, unit: '×' },
  { goal: 'N = 10000, W4 at most 0.30 s', size: '10000', row: 'W4|godwit', of: (s) => s.medianMs / 1000, max: 0.3, unit: 's' },
  { goal: 'N = 10000, W6 in a running process at most 40 ms', size: '10000', row: 'W6|godwit assertSchemaCurrent in process', of: (s) => s.medianMs, max: 40, unit: 'ms' },
  { goal: 'N = 1000, W6 in a running process against its floor, the larger of F6a and F6b (no bound: reported)', size: '1000', row: 'W6|godwit assertSchemaCurrent in process', of: (s) => s.xFloor, unit: '× floor' },
  { goal: 'N = 10000, W6 in a running process against its floor (no bound: reported)', size: '10000', row: 'W6|godwit assertSchemaCurrent in process', of: (s) => s.xFloor, unit: '× floor' },
  { goal: 'N = 1000, W6 over a link with 4 ms round trips against its floor there (no bound: reported)', size: '1000', row: 'W6|godwit assertSchemaCurrent in process, 4 ms round trips', of: (s) => s.xFloor, unit: '× floor' },
  { goal: 'N = 10000, W6 over a link with 4 ms round trips against its floor there (no bound: reported)', size: '10000', row: 'W6|godwit assertSchemaCurrent in process, 4 ms round trips', of: (s) => s.xFloor, unit: '× floor' },
  { goal: 'W6 cold API start, N = 1000 (no bound: reported)', size: '1000', row: 'W6|godwit cold API start', of: (s) => s.xNode, unit: '× `node -e 0`' },
  { goal: 'W6 cold API start, N = 10000 (no bound: reported)', size: '10000', row: 'W6|godwit cold API start', of: (s) => s.xNode, unit: '× `node -e 0`' },
  { goal: 'W5, 100 databases × 50: the fleet within 1.3 × the floor', size: 'W5: 100 databases x 50', row: 'W5|godwit up --targets (fleet)', of: (s) => s.xFloor, max: 1.3, unit: '×' },
  { goal: 'W5: the fleet at least 3 × faster than a loop of single godwit runs', size: 'W5: 100 databases x 50', row: 'W5|godwit up, shell loop', of: (s, all) => all['W5|godwit up --targets (fleet)'] && s.medianMs / all['W5|godwit up --targets (fleet)'].medianMs, min: 3, unit: '×' },
  { goal: 'W5: the fleet\'s peak RSS under 150 MiB', size: 'W5: 100 databases x 50', row: 'W5|godwit up --targets (fleet)', of: (s) => s.medianRssMiB, max: 150, unit: 'MiB' },
  { goal: 'W7, 300 realistic migrations: W1 faster than dbmate', size: 'W7: 300 realistic', row: 'W1|godwit', of: (s) => s.xDbmate, max: 1.0, unit: '× dbmate' },
  { goal: 'W7: W2 faster than dbmate', size: 'W7: 300 realistic', row: 'W2|godwit', of: (s) => s.xDbmate, max: 1.0, unit: '× dbmate' },
  { goal: 'W7: W3 faster than dbmate', size: 'W7: 300 realistic', row: 'W3|godwit', of: (s) => s.xDbmate, max: 1.0, unit: '× dbmate' },
]

const within = (g, v) => (g.max !== undefined ? v <= g.max : g.min !== undefined ? v >= g.min : null)
const shown = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
/** A run from before the bench removed NODE_EXTRA_CA_CERTS from the timed commands (run.mjs). */
const inflated = (json) => json.env === undefined

export const INFLATED_NOTE =
  '† measured before the bench removed NODE_EXTRA_CA_CERTS from the timed commands: this workplace\'s ' +
  'machines set it, and every Node process then parses that certificate bundle at start-up (36 ms of a ' +
  '56 ms `node -e 0`), so such a run\'s ratios to `node -e 0` read low and its Node tools read slow ' +
  'against dbmate. A goal\'s verdict counts only the runs without † when it has any.'

/**
 * When runs disagree: the newest run's verdict first (older builds and noisier hours are in the
 * list too, and a goal met only by an old build is not met now), then how many runs met it.
 */
const mixed = (verdicts) => `newest run: ${verdicts[0] ? 'yes' : 'no'}; met in ${verdicts.filter(Boolean).length} of ${verdicts.length} runs`

/**
 * `results`: `[{ file, json }]`. One row per goal: every file's figure for it (newest first) and
 * whether all, some or none of them meet it (when some: which, the newest run's first).
 */
export function goalsTable(results) {
  const newestFirst = [...results].sort((a, b) => b.json.date.localeCompare(a.json.date))
  const lines = ['| goal | measured (newest first) | met |', '| --- | --- | --- |']
  let marked = false
  for (const g of GOALS) {
    const seen = []
    for (const { file, json } of newestFirst) {
      const all = json.sizes[g.size]
      const s = all?.[g.row]
      const v = s && g.of(s, all)
      if (typeof v === 'number' && Number.isFinite(v)) seen.push({ v, file, date: json.date.slice(0, 10) + (json.build ? `, build ${json.build}` : ''), dagger: inflated(json) })
    }
    if (seen.length === 0) {
      lines.push(`| ${g.goal} | not measured | |`)
      continue
    }
    marked ||= seen.some((m) => m.dagger)
    const figures = seen.map((m) => `${shown(m.v)} ${g.unit} (\`${m.file}\`, ${m.date})${m.dagger ? ' †' : ''}`).join('; ')
    const counted = seen.some((m) => !m.dagger) ? seen.filter((m) => !m.dagger) : seen
    const verdicts = counted.map((m) => within(g, m.v))
    const met = verdicts[0] === null ? '' : verdicts.every(Boolean) ? 'yes' : verdicts.some(Boolean) ? mixed(verdicts) : 'no'
    lines.push(`| ${g.goal} | ${figures} | ${met} |`)
  }
  if (marked) lines.push('', INFLATED_NOTE)
  return lines.join('\n')
}
