/** Line plots as PNG (SVG rendered by sharp): time against one parameter, one line per implementation. */
import { loadSharp } from '../images';
import { writeFileAtomic } from '../safetensors';

export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

function fmt(v: number): string {
  if (Number.isInteger(v) && v < 1000) return String(v);
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k`;
  if (v >= 1) return v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
  return v.toPrecision(2);
}

/** log-log axes: sizes and times span decades. */
export function svgPlot(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 640, H = 420, L = 70, R = 20, T = 40, B = 55;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const lx0 = Math.floor(Math.log10(Math.min(...xs)) * 2) / 2, lx1 = Math.ceil(Math.log10(Math.max(...xs)) * 2) / 2;
  const ly0 = Math.floor(Math.log10(Math.min(...ys))), ly1 = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x: number) => L + ((Math.log10(x) - lx0) / Math.max(1e-9, lx1 - lx0)) * (W - L - R);
  const py = (y: number) => H - B - ((Math.log10(y) - ly0) / Math.max(1e-9, ly1 - ly0)) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle">${xLabel}</text>`,
    `<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`,
  ];
  for (let e = ly0; e <= ly1; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < 10 ** ly0 || v > 10 ** ly1) continue;
      const y = py(v);
      parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
    }
  }
  const xticks = [...new Set(xs)].sort((a, b) => a - b);
  for (const v of xticks) {
    const x = px(v);
    parts.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p[0] > 0 && p[1] > 0).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) return;
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${px(p[0])},${py(p[1])}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${s.color}"/>`);
    parts.push(`<rect x="${L + 14}" y="${T + 8 + i * 18}" width="14" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${L + 34}" y="${T + 13 + i * 18}">${s.label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes the plot as PNG; returns false (nothing written) where the optional sharp package is missing. */
export async function writePlot(file: string, svg: string): Promise<boolean> {
  const sharp = loadSharp();
  if (sharp === null) return false;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  await writeFileAtomic(file, png);
  return true;
}
