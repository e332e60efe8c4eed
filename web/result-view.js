// A job's result as a card a person can read: the resume's score, the points per criterion
// with their reasons, the sections found and missing and the skills; the document's type,
// size, pages, text statistics and digest. Field names: docs/job-types.md. Anything else: its
// top-level facts. The raw JSON stays beside the card (the page's "Raw JSON" disclosure).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const number = (n) => (Number.isFinite(n) ? n.toLocaleString('en') : String(n ?? '—'));

// 15.2 MB (powers of 1,000, as disks and networks count).
export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

const label = (key) => {
  const words = String(key).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function chips(items, cls = '') {
  if (!items || items.length === 0) return el('span', { class: 'muted' }, 'none');
  return el('ul', { class: `chips ${cls}` }, items.map((item) => el('li', {}, item)));
}

// A definition list of [term, value] pairs, skipping empty values.
function facts(pairs, id = null) {
  const list = el('dl', { class: 'facts', id });
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    list.append(el('dt', {}, term), el('dd', {}, value));
  }
  return list;
}

function pages(result) {
  if (!Number.isFinite(result.pageCount)) return null;
  const read = result.pagesAnalysed;
  return Number.isFinite(read) && read !== result.pageCount
    ? `${number(result.pageCount)} (first ${number(read)} read)`
    : number(result.pageCount);
}

function digest(result) {
  return result.sha256 ? el('code', { class: 'digest', title: 'SHA-256 of the file' }, result.sha256) : null;
}

function resumeCard(result) {
  const max = result.maxScore || 100;
  const rows = (result.reasons || []).map((r) => el('tr', { 'data-criterion': r.criterion },
    el('th', { scope: 'row' }, label(r.criterion)),
    el('td', { class: 'points' }, `${number(r.points)} / ${number(r.maxPoints)}`),
    el('td', {}, r.reason || '')));
  return el('div', { class: 'resume' },
    el('div', { class: 'score-line' },
      el('p', { id: 'result-score', class: 'score', 'aria-label': `Score ${result.score} out of ${max}` },
        el('span', { class: 'score-value' }, number(result.score)), el('small', {}, ` / ${number(max)}`)),
      el('div', {},
        el('p', { class: 'file-name' }, result.fileName || 'Resume'),
        el('meter', { min: 0, max, value: result.score, low: max * 0.5, high: max * 0.75, optimum: max, 'aria-hidden': 'true' }),
        el('p', { class: 'muted' }, [
          result.format && result.format.toUpperCase(),
          Number.isFinite(result.pageCount) && `${pages(result)} page${result.pageCount === 1 ? '' : 's'}`,
          Number.isFinite(result.wordCount) && `${number(result.wordCount)} words`,
          Number.isFinite(result.sizeBytes) && bytes(result.sizeBytes),
        ].filter(Boolean).join(' · ')))),
    el('div', { class: 'table-wrap' },
      el('table', { id: 'result-criteria', class: 'criteria' },
        el('caption', {}, 'How the score was reached'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Criterion'), el('th', { scope: 'col' }, 'Points'), el('th', { scope: 'col' }, 'Why'))),
        el('tbody', {}, rows))),
    el('h3', {}, 'Sections'),
    facts([
      ['Found', chips(result.sections?.found, 'found')],
      ['Missing', chips(result.sections?.missing, 'missing')],
    ], 'result-sections'),
    el('h3', {}, 'Skills', result.skillsSource === 'keywords' ? el('small', { class: 'muted' }, ' (no skills section: known skills named in the text)') : null),
    el('div', { id: 'result-skills' }, chips(result.skills)),
    result.truncated ? el('p', { class: 'muted' }, 'Only the start of a long document was read.') : null,
    el('h3', {}, 'File'),
    facts([['SHA-256', digest(result)]]));
}

function documentCard(result) {
  const stats = result.textStats;
  const type = [result.detectedType, result.mimeType && `(${result.mimeType})`].filter(Boolean).join(' ');
  const declared = result.contentTypeMatches === false
    ? `${result.declaredContentType}: does not match the content` : result.declaredContentType;
  return el('div', { class: 'document' },
    el('p', { id: 'result-summary', class: 'summary' },
      el('strong', {}, result.fileName || 'Document'), el('br'),
      [
        result.detectedType === 'binary' ? 'binary data' : String(result.detectedType || '').toUpperCase(),
        Number.isFinite(result.pageCount) && `${number(result.pageCount)} page${result.pageCount === 1 ? '' : 's'}`,
        stats && `${number(stats.words)} words`,
        bytes(result.sizeBytes),
      ].filter(Boolean).join(' · ')),
    facts([
      ['Type', type],
      ['Uploaded as', declared],
      ['Size', Number.isFinite(result.sizeBytes) ? `${bytes(result.sizeBytes)} (${number(result.sizeBytes)} bytes)` : null],
      ['Pages', pages(result)],
      ['Image', result.image ? `${number(result.image.width)} × ${number(result.image.height)} pixels` : null],
      ['Encoding', result.encoding],
      ['SHA-256', digest(result)],
    ], 'result-facts'),
    stats ? [
      el('h3', {}, 'Text'),
      facts([
        ['Characters', number(stats.characters)],
        ['Words', number(stats.words)],
        ['Lines', number(stats.lines)],
        ['Sentences', number(stats.sentences)],
        ['Average word', Number.isFinite(stats.averageWordLength) ? `${stats.averageWordLength} letters` : null],
        ['Language', stats.languageHint],
        ['Top words', stats.topWords?.length ? chips(stats.topWords.map((w) => `${w.word} ×${w.count}`)) : null],
      ], 'result-text'),
      stats.truncated ? el('p', { class: 'muted' }, 'Statistics cover the start of the text only.') : null,
    ] : null);
}

function genericCard(result) {
  const scalar = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  return facts(Object.entries(result).filter(([, v]) => scalar(v)).map(([k, v]) => [label(k), String(v)]), 'result-facts');
}

// The card for `result` (a completed job's), by its jobType (or its shape).
export function resultCard(result) {
  if (!result || typeof result !== 'object') return el('p', { class: 'muted' }, 'The job returned no result.');
  if (result.jobType === 'analyze-resume' || (Number.isFinite(result.score) && Array.isArray(result.reasons))) {
    return resumeCard(result);
  }
  if (result.jobType === 'analyze-document' || result.detectedType) return documentCard(result);
  return genericCard(result);
}
