// What inference/strokes.rasterise asks of Pillow's ImageDraw, ported so the page draws the same
// pixels: a filled ellipse, a filled pie slice and a wide line (integer polygons) on an 8-bit
// single-channel image, and ImageDraw.line's joint="curve". Ported from Pillow 12.3.0
// (src/libImaging/Draw.c, src/_imaging.c, src/PIL/ImageDraw.py; Pillow's MIT-CMU licence), only
// the paths a fill of 255 takes; the C's float (32-bit) arithmetic is kept with Math.fround where
// it decides a pixel. Images are {data: Uint8Array, w, h}; coordinates are truncated to integers
// where Pillow's C side does ((int) casts).
const f32 = Math.fround;
const trunc = Math.trunc;
const roundUp = (f) => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(Math.abs(f) + 0.5)); // Draw.c's ROUND_UP, in double
const roundDown = (f) => (f >= 0 ? Math.ceil(f - 0.5) : -Math.ceil(Math.abs(f) - 0.5));
const roundUpF = (f) => (f >= 0 ? Math.floor(f32(f + 0.5)) : -Math.floor(f32(Math.abs(f) + 0.5))); // ...on a C float
const roundDownF = (f) => (f >= 0 ? Math.ceil(f32(f - 0.5)) : -Math.ceil(f32(Math.abs(f) - 0.5)));
const roundf = (f) => f32(Math.sign(f) * Math.round(Math.abs(f))); // C's roundf: halves away from zero
const lround = (v) => (v < 0 ? -Math.round(-v) : Math.round(v));
const cFmod = (a, b) => a % b; // C's fmod and JS's % agree (the sign of the dividend)

function hline(im, x0, y, x1) {
  if (y < 0 || y >= im.h) return;
  if (x0 < 0) x0 = 0;
  else if (x0 >= im.w) return;
  if (x1 < 0) return;
  if (x1 >= im.w) x1 = im.w - 1;
  if (x0 <= x1) im.data.fill(255, y * im.w + x0, y * im.w + x1 + 1);
}

function point(im, x, y) {
  if (x >= 0 && x < im.w && y >= 0 && y < im.h) im.data[y * im.w + x] = 255;
}

// ---- polygons (Draw.c: add_edge, polygon_generic for an 8-bit image) ----

function edge(x0, y0, x1, y1) {
  const e = {x0, y0, xmin: Math.min(x0, x1), xmax: Math.max(x0, x1), ymin: Math.min(y0, y1), ymax: Math.max(y0, y1)};
  e.dx = y0 === y1 ? 0 : f32((x1 - x0) / (y1 - y0));
  return e;
}

const along = (e, y) => f32(f32((y - e.y0) * e.dx) + e.x0); // (y - y0) * dx + x0, in float

function polygon(im, edges) {
  let ymin = im.h - 1, ymax = 0;
  const table = [];
  for (const e of edges) {
    if (ymin > e.ymin) ymin = e.ymin;
    if (ymax < e.ymax) ymax = e.ymax;
    if (e.ymin === e.ymax) {
      hline(im, e.xmin, e.ymin, e.xmax);
      continue;
    }
    table.push(e);
  }
  if (ymin < 0) ymin = 0;
  if (ymax > im.h) ymax = im.h;
  for (; ymin <= ymax; ymin++) {
    const xx = [];
    for (let i = 0; i < table.length; i++) {
      const current = table[i];
      if (ymin < current.ymin || ymin > current.ymax) continue;
      xx.push(along(current, ymin));
      if (ymin === current.ymax && ymin < ymax) {
        xx.push(xx[xx.length - 1]); // needed to draw consistent polygons
      } else if ((ymin === current.ymin || ymin === current.ymax) && current.dx !== 0) {
        for (let k = 0; k < i; k++) { // connect discontiguous corners
          const other = table[k];
          if ((ymin !== other.ymin && ymin !== other.ymax) || other.dx === 0) continue;
          if (roundf(xx[xx.length - 1]) === roundf(along(other, ymin))) {
            const offset = ymin === current.ymax ? -1 : 1;
            const adjacent = along(current, ymin + offset);
            if (ymin + offset >= other.ymin && ymin + offset <= other.ymax) {
              const adjacentOther = along(other, ymin + offset);
              const last = xx[xx.length - 1];
              if (last > adjacent + 1 && last > adjacentOther + 1) xx[xx.length - 1] = f32(roundf(Math.max(adjacent, adjacentOther)) + 1);
              else if (last < adjacent - 1 && last < adjacentOther - 1) xx[xx.length - 1] = f32(roundf(Math.min(adjacent, adjacentOther)) - 1);
              break;
            }
          }
        }
      }
    }
    xx.sort((a, b) => a - b);
    for (let i = 1; i < xx.length; i += 2) hline(im, roundUpF(xx[i - 1]), ymin, roundDownF(xx[i]));
  }
}

// ImagingDrawWideLine: a segment `width` wide as a four-cornered polygon.
export function wideLine(im, x0, y0, x1, y1, width) {
  const dx = x1 - x0, dy = y1 - y0;
  if (dx === 0 && dy === 0) {
    point(im, x0, y0);
    return;
  }
  const big = Math.hypot(dx, dy), small = (width - 1) / 2.0;
  const ratioMax = roundUp(small) / big, ratioMin = roundDown(small) / big;
  const dxmin = roundDown(ratioMin * dy), dxmax = roundDown(ratioMax * dy);
  const dymin = roundDown(ratioMin * dx), dymax = roundDown(ratioMax * dx);
  const v = [[x0 - dxmin, y0 + dymax], [x1 - dxmin, y1 + dymax], [x1 + dxmax, y1 - dymin], [x0 + dxmax, y0 - dymin]];
  polygon(im, v.map((p, i) => edge(p[0], p[1], v[(i + 1) % 4][0], v[(i + 1) % 4][1])));
}

// ---- ellipses (Draw.c: quarter_*, ellipse_*) on the doubled integer grid ----

function quarter(a, b) {
  if (a < 0 || b < 0) return {finished: true};
  return {cx: a, cy: b % 2, ex: a % 2, ey: b, a2: a * a, b2: b * b, a2b2: a * a * b * b, finished: false};
}

const quarterDelta = (s, x, y) => Math.abs(s.a2 * y * y + s.b2 * x * x - s.a2b2);

function quarterNext(s) {
  if (s.finished) return null;
  const out = [s.cx, s.cy];
  if (s.cx === s.ex && s.cy === s.ey) {
    s.finished = true;
  } else {
    let nx = s.cx, ny = s.cy + 2;
    let ndelta = quarterDelta(s, nx, ny);
    if (nx > 1) {
      let newdelta = quarterDelta(s, s.cx - 2, s.cy + 2);
      if (ndelta > newdelta) {
        nx = s.cx - 2;
        ny = s.cy + 2;
        ndelta = newdelta;
      }
      newdelta = quarterDelta(s, s.cx - 2, s.cy);
      if (ndelta > newdelta) {
        nx = s.cx - 2;
        ny = s.cy;
      }
    }
    s.cx = nx;
    s.cy = ny;
  }
  return out;
}

// The horizontal segments [x0, y, x1] of a filled a x b ellipse, in the order Pillow makes them.
function* ellipseSegments(a, b, w) {
  const outer = quarter(a, b), leftmost = a % 2;
  const first = quarterNext(outer);
  if (w < 1 || first === null) return;
  let [pr, py] = first;
  const inner = quarter(a - 2 * (w - 1), b - 2 * (w - 1));
  let pl = leftmost, finished = false;
  while (!finished) {
    const y = py, r = pr;
    let l = pl, next;
    while ((next = quarterNext(outer)) !== null && next[1] <= y) { /* skip to the next row */ }
    if (next === null) finished = true;
    else [pr, py] = next;
    while ((next = quarterNext(inner)) !== null && next[1] <= y) l = next[0];
    pl = next === null ? leftmost : next[0];
    const buffer = [];
    if ((l > 0 || l < r) && y > 0) buffer.push([l === 0 ? 2 : l, y, r]);
    if (y > 0) buffer.push([-r, y, -l]);
    if (l > 0 || l < r) buffer.push([l === 0 ? 2 : l, -y, r]);
    buffer.push([-r, -y, -l]);
    while (buffer.length) yield buffer.pop();
  }
}

// ImagingDrawEllipse with fill: the ellipse inscribed in the integer box [x0, x1] x [y0, y1].
export function ellipse(im, x0, y0, x1, y1) {
  const a = x1 - x0, b = y1 - y0;
  if (a < 0 || b < 0) return;
  for (const [X0, Y, X1] of ellipseSegments(a, b, a + b)) hline(im, x0 + trunc((X0 + a) / 2), y0 + trunc((Y + b) / 2), x0 + trunc((X1 + a) / 2));
}

// ---- pie slices (Draw.c: the clipping tree, pie_init, normalize_angles) ----

// A horizontal segment clipped by a tree of half-planes: a sorted list of [x, +1 | -1] ends.
function clip(node, x0, y, x1) {
  if (node === null) return [[x0, 1], [x1, -1]];
  if (node.type === 'clip') {
    const eps = 1e-9, {a, b, c} = node;
    if (Math.abs(a) < eps) {
      if (b * y + c < -eps) [x0, x1] = [1, 0];
    } else {
      const ix = -(b * y + c) / a;
      if (a * x0 + b * y + c < eps) x0 = lround(Math.max(x0, ix));
      if (a * x1 + b * y + c < eps) x1 = lround(Math.min(x1, ix));
    }
    return x0 <= x1 ? [[x0, 1], [x1, -1]] : [];
  }
  const l1 = clip(node.l, x0, y, x1), l2 = clip(node.r, x0, y, x1), out = [];
  let i = 0, j = 0, k1 = 0, k2 = 0;
  while (i < l1.length || j < l2.length) {
    let t;
    if (j >= l2.length || (i < l1.length && (l1[i][0] < l2[j][0] || (l1[i][0] === l2[j][0] && l1[i][1] > l2[j][1])))) {
      t = l1[i++];
      k1 += t[1];
    } else {
      t = l2[j++];
      k2 += t[1];
    }
    const tail = out.length ? out[out.length - 1] : null;
    const keep = node.type === 'or'
      ? (t[1] === 1 && (tail === null || tail[1] === -1)) || (t[1] === -1 && k1 === 0 && k2 === 0)
      : (t[1] === 1 && (tail === null || tail[1] === -1) && k1 > 0 && k2 > 0) || (t[1] === -1 && tail !== null && tail[1] === 1 && (k1 === 0 || k2 === 0));
    if (keep) out.push(t);
  }
  return out;
}

function normalizeAngles(al, ar) { // float in, float out, as the C's float variables
  if (f32(ar - al) >= 360) return [0, 360];
  al = f32(cFmod(al < 0 ? 360 - cFmod(-al, 360) : al, 360));
  ar = f32(al + cFmod(ar < al ? 360 - cFmod(f32(al - ar), 360) : f32(ar - al), 360));
  return [al, ar];
}

function pieTree(a, b, al, ar) {
  const xl = a * Math.cos(al * Math.PI / 180.0), xr = a * Math.cos(ar * Math.PI / 180.0);
  const yl = b * Math.sin(al * Math.PI / 180.0), yr = b * Math.sin(ar * Math.PI / 180.0);
  const cut = (ca, cb) => ({type: 'clip', a: ca, b: cb, c: 0});
  let root = {type: f32(ar - al) < 180 ? 'and' : 'or', l: cut(-yl, xl), r: cut(yr, -xr)};
  if (f32(ar - al) < 90) root = {type: 'and', l: root, r: cut((xl + xr) / 2.0, (yl + yr) / 2.0)};
  return root;
}

// ImagingDrawPieslice with fill: start and end in degrees (C floats), clockwise from 3 o'clock.
export function pieslice(im, x0, y0, x1, y1, start, end) {
  [start, end] = normalizeAngles(f32(start), f32(end));
  if (f32(start + 360) === end) {
    ellipse(im, x0, y0, x1, y1);
    return;
  }
  if (start === end) return;
  const a = x1 - x0, b = y1 - y0;
  if (a < 0 || b < 0) return;
  const tree = pieTree(a, b, start, end);
  for (const [X0, Y, X1] of ellipseSegments(a, b, a + b)) {
    const ends = clip(tree, X0, Y, X1);
    for (let i = 0; i < ends.length; i += 2) hline(im, x0 + trunc((ends[i][0] + a) / 2), y0 + trunc((Y + b) / 2), x0 + trunc((ends[i + 1][0] + a) / 2));
  }
}

// ---- ImageDraw.line(points, width, joint="curve") (ImageDraw.py) ----

const pyMod360 = (x) => { // Python's float %: the sign of the divisor
  let m = x % 360;
  if (m !== 0 && m < 0) m += 360;
  return m === 0 ? 0 : m;
};
const degrees = (x) => x * (180.0 / Math.PI);
const radians = (x) => x * (Math.PI / 180.0);

export function line(im, points, width, curve = true) {
  for (let i = 0; i + 1 < points.length; i++) {
    const [p, q] = [points[i], points[i + 1]];
    wideLine(im, trunc(p[0]), trunc(p[1]), trunc(q[0]), trunc(q[1]), width);
  }
  if (!curve || width <= 4) return;
  for (let i = 1; i < points.length - 1; i++) {
    const point = points[i];
    const angles = [[points[i - 1], point], [point, points[i + 1]]].map(([s, e]) => pyMod360(degrees(Math.atan2(e[0] - s[0], s[1] - e[1]))));
    if (angles[0] === angles[1]) continue; // a straight line: no joint
    const flipped = (angles[1] > angles[0] && angles[1] - 180 > angles[0]) || (angles[1] < angles[0] && angles[1] + 180 > angles[0]);
    const [start, end] = flipped ? [angles[1] + 90, angles[0] + 90] : [angles[0] - 90, angles[1] - 90];
    pieslice(im, trunc(point[0] - width / 2 + 1), trunc(point[1] - width / 2 + 1), trunc(point[0] + width / 2 - 1), trunc(point[1] + width / 2 - 1),
             start - 90, end - 90);
    if (width > 8) { // cover potential gaps between the line and the joint
      const at = ([x, y], angle) => {
        angle -= 90;
        const distance = width / 2 - 1;
        return [[x, distance * Math.cos(radians(angle))], [y, distance * Math.sin(radians(angle))]]
          .map(([v, d]) => v + (d > 0 ? Math.floor(d) : Math.ceil(d)));
      };
      const turn = flipped ? 90 : -90;
      line(im, [at(point, angles[0] + turn), point, at(point, angles[1] + turn)], 3, false);
    }
  }
}
