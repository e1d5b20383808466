// DOM helpers. Text from the API only ever becomes text nodes or
// attribute values: nothing here parses markup.

// el builds an element. attrs are attributes (true: present, null or
// false: absent), except on* entries, which are event listeners. kids are
// nodes or values shown as text; arrays are flattened, null skipped.
export function el (tag, attrs = {}, ...kids) {
  const e = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue
    if (name.startsWith('on')) e.addEventListener(name.slice(2), value)
    else e.setAttribute(name, value === true ? '' : String(value))
  }
  add(e, kids)
  return e
}

// add appends kids to parent as el does.
export function add (parent, kids) {
  for (const k of [kids].flat(Infinity)) {
    if (k == null || k === false) continue
    parent.append(k instanceof Node ? k : String(k))
  }
  return parent
}

// link is an in-console link to a route such as ['approvals', id].
export function link (parts, ...kids) {
  return el('a', { href: '#/' + parts.map(encodeURIComponent).join('/') }, ...kids)
}

// fields is a description list of [label, value] pairs; pairs whose value
// is null or '' are left out.
export function fields (pairs, attrs = {}) {
  const dl = el('dl', { class: 'fields', ...attrs })
  for (const [label, value] of pairs) {
    if (value == null || value === '') continue
    dl.append(el('dt', {}, label), el('dd', {}, value))
  }
  return dl
}

// table shows rows under columns [{label, cell: row => kid, wrap}]. Each
// cell carries its column's label, shown above it on narrow screens; wrap
// lets a column of long values (hashes, details) break anywhere.
export function table (caption, columns, rows, empty) {
  if (!rows.length) return el('p', { class: 'empty' }, empty)
  return el('div', { class: 'table' },
    el('table', {},
      el('caption', { class: 'sr-only' }, caption),
      el('thead', {}, el('tr', {}, columns.map(c => el('th', { scope: 'col' }, c.label)))),
      el('tbody', {}, rows.map(r => el('tr', {}, columns.map(c => el('td', { 'data-label': c.label, class: c.wrap && 'wrap' }, c.cell(r))))))))
}

// list shows values as a list, or "none".
export function list (values) {
  if (!values || !values.length) return el('span', { class: 'muted' }, 'none')
  return el('ul', { class: 'names' }, values.map(v => el('li', {}, v)))
}

// show turns any API value into readable text.
export function show (v) {
  if (v == null || v === '') return '—'
  if (Array.isArray(v)) return v.length ? v.map(show).join(', ') : 'none'
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`).join('; ') || '—'
  return String(v)
}

// span says a duration in seconds the way people do: "45 s", "3 h 5 min".
export function span (seconds) {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
  const d = Math.floor(h / 24)
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`
}

// when is a time element with the UTC time as text.
export function when (iso) {
  if (!iso) return el('span', { class: 'muted' }, '—')
  const d = new Date(iso)
  const text = isNaN(d) ? String(iso) : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
  return el('time', { datetime: iso }, text)
}

// relative is "3 min ago" or "in 2 h" from now.
export function relative (iso, now = Date.now()) {
  const t = new Date(iso).getTime()
  if (isNaN(t)) return ''
  return t <= now ? `${span((now - t) / 1000)} ago` : `in ${span((t - now) / 1000)}`
}

// download saves text as a file, made here: nothing secret goes in a URL.
export function download (name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = el('a', { href: url, download: name, hidden: true })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
}
