/** A workflow's resilience score over its last runs (oldest left), as a tiny line. */
export function Sparkline({ values, width = 90, height = 22 }: { values: number[]; width?: number; height?: number }) {
  if (values.length < 2) return null;
  const step = width / (values.length - 1);
  const y = (v: number) => height - 2 - v * (height - 4);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const last = values[values.length - 1];
  return (
    <svg width={width} height={height} role="img" aria-label={`score trend, last ${Math.round(last * 100)}%`} data-testid="score-sparkline">
      <line x1={0} x2={width} y1={y(1)} y2={y(1)} stroke="#dee2e6" strokeDasharray="2 2" />
      <polyline points={points} fill="none" stroke="#4c6ef5" strokeWidth={1.5} />
      <circle cx={width} cy={y(last)} r={2.5} fill={last >= 0.9 ? '#2f9e44' : last >= 0.6 ? '#f08c00' : '#e03131'} />
    </svg>
  );
}
