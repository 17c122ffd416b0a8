// The benchmark's table, for the terminal (bench/run.mjs) and the README (bench/readme.mjs).

/** One size's results as a Markdown table: by workload (floors with theirs), fastest first. */
export function table(n, summary) {
  const rows = [['N=' + n, 'median ms', 'min..max ms', 'RSS MiB', 'x F1 (paired)', 'x node -e 0 (paired)']]
  const vsDbmate = Object.values(summary).some((s) => s.xDbmate)
  if (vsDbmate) rows[0].push('x dbmate (paired)')
  const vsFloor = Object.values(summary).some((s) => s.xFloor)
  if (vsFloor) rows[0].push('x floor (paired)')
  // measured in shuffled order; printed by workload, `node -e 0` and F3 with W2/W3 whose floors
  // they are, F6a/F6b with W6
  const group = (k) => (k.startsWith('node -e 0') || k.startsWith('F3 ') ? 'W2' : k.startsWith('F6') ? 'W6' : k.split('|')[0])
  const entries = Object.entries(summary).sort(([a, x], [b, y]) => group(a).localeCompare(group(b)) || x.medianMs - y.medianMs)
  for (const [k, s] of entries) {
    const ms = (v) => v.toFixed(v < 10 ? 2 : 0)
    rows.push([k.replace('|', ' '), ms(s.medianMs), `${ms(s.minMs)}..${ms(s.maxMs)}`, s.medianRssMiB.toFixed(0), s.xF1 ? s.xF1.toFixed(2) : '', s.xNode ? s.xNode.toFixed(2) : ''])
    if (vsDbmate) rows.at(-1).push(s.xDbmate ? s.xDbmate.toFixed(2) : '')
    if (vsFloor) rows.at(-1).push(s.xFloor ? s.xFloor.toFixed(2) : '')
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  const line = (r) => '| ' + r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(' | ') + ' |'
  return [line(rows[0]), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.slice(1).map(line)].join('\n')
}
