// A QR code as an SVG element: uqr computes the modules, we draw them as one path.

import { encode } from 'uqr';

/** An SVG QR code of `text` (black modules on white, with the standard quiet zone of 4). */
export function qrCode(text, { label = 'QR code' } = {}) {
  const { data, size } = encode(text, { ecc: 'M', border: 4 });
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('fill', '#fff');
  const d = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!data[y][x]) continue;
      let run = 1;
      while (x + run < size && data[y][x + run]) run++;
      d.push(`M${x} ${y}h${run}v1h-${run}z`);
      x += run - 1;
    }
  }
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d.join(''));
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}
