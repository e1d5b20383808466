// certctl console: pending approvals and the decision, certificates,
// jobs and the audit trail, over the HTTP API. Plain modules, no
// dependencies, no build step.
import { ApiError, all, call, explain, seg, session } from './api.js'
import { add, download, el, fields, link, list, relative, show, span, table, when } from './dom.js'

const $ = (id) => document.getElementById(id)

// Audit actions the API accepts as a filter (a Go test keeps this list
// equal to the API's).
const AUDIT_ACTIONS = [
  'renewal_triggered', 'approval_requested', 'approval_approved', 'approval_rejected',
  'approval_expired', 'approval_bypassed', 'approval_vote', 'approval_profile_edit_requested', 'profile.edit_applied',
  'renewal_job_completed', 'renewal_job_failed', 'profile.created', 'profile.updated',
  'profile.deleted', 'certificate.created', 'certificate.status_changed', 'certificate.renewal_refused',
  'issuer.initialized', 'apikey.created', 'apikey.revoked', 'principal.roles_granted',
  'approval_reminder_sent', 'approval_escalated', 'certificate.expiring',
  'certificate.revoked', 'crl.published', 'crl.entries_pruned', 'certificate.archived',
  'certificate.records_deleted', 'certificate.deleted', 'approval_certificate_move_requested', 'certificate.moved',
  'certificate.delivered', 'certificate.delivery_failed', 'certificate.delivery_superseded', 'certificate.delivery_dropped',
]
const JOB_STATUSES = ['AwaitingApproval', 'Pending', 'Running', 'Completed', 'Failed', 'Cancelled']
const PENDING_REFRESH_MS = 5000
const INFLIGHT_REFRESH_MS = 2000
const DECIDERS = 'the approver or admin role'

// me is the signed-in caller: {principal, type, roles}.
let me = null
const has = (...roles) => !!me && me.roles.some(r => r === 'admin' || roles.includes(r))

// Each navigation starts a new page; work of an older page (a reply that
// arrives late, a refresh timer) sees it is stale and stops.
let page = 0
let timer = 0
// flash is a message for the next render of the current page.
let flash = null

// ---------------------------------------------------------------- sign-in

function showSignin (message) {
  me = null
  clearTimeout(timer)
  page++
  $('view').hidden = true
  $('view').replaceChildren()
  $('nav').hidden = true
  $('who').hidden = true
  $('signin').hidden = false
  $('signin-error').textContent = message || ''
  document.title = 'Sign in · certctl console'
  $('apikey').focus()
}

function showApp () {
  $('signin').hidden = true
  $('signin-error').textContent = ''
  $('nav').hidden = false
  $('nav-audit').hidden = !has('auditor')
  $('who-name').textContent = `Signed in as ${me.principal} (${me.roles.join(', ') || 'no role'})`
  $('who').hidden = false
  $('view').hidden = false
}

async function signIn (event) {
  event.preventDefault()
  const key = $('apikey').value.trim()
  if (!key) {
    $('signin-error').textContent = 'Enter your API key.'
    $('apikey').focus()
    return
  }
  try {
    me = await call('whoami', { key })
  } catch (err) {
    $('signin-error').textContent = err instanceof ApiError && err.status === 403
      ? 'That key is valid but holds no role in certctl. Ask an admin to grant one.'
      : explain(err, { doing: 'signing in' })
    $('apikey').focus()
    return
  }
  session.set(key)
  $('apikey').value = ''
  showApp()
  if (!location.hash.startsWith('#/')) location.hash = '#/approvals'
  else route()
}

function signOut () {
  session.clear()
  showSignin('Signed out. The key is no longer stored in this tab.')
}

// ----------------------------------------------------------------- router

const routes = [
  [/^#\/approvals\/([^/]+)$/, approvalPage],
  [/^#\/approvals$/, approvalsPage],
  [/^#\/certificates\/([^/]+)$/, certificatePage],
  [/^#\/certificates$/, certificatesPage],
  [/^#\/jobs\/([^/]+)$/, jobPage],
  [/^#\/jobs$/, jobsPage],
  [/^#\/audit$/, auditPage],
]

function route () {
  if (!me) return
  const hash = location.hash || '#/approvals'
  if (!hash.startsWith('#/')) return // an in-page link such as "skip to content"
  clearTimeout(timer)
  const mine = ++page
  flash = null
  for (const a of document.querySelectorAll('#nav a')) {
    const here = hash === a.getAttribute('href') || hash.startsWith(a.getAttribute('href') + '/')
    if (here) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  for (const [pattern, render] of routes) {
    const m = pattern.exec(hash)
    if (m) {
      const args = m.slice(1).map(decodeURIComponent)
      run(mine, () => render(mine, ...args), true)
      return
    }
  }
  paint(mine, 'Not found', el('p', {}, 'There is no such page in the console.'), true)
}

// run renders a page and turns a failure into a message in plain words.
async function run (mine, render, focus) {
  try {
    await render()
    if (focus && mine === page) focusHeading()
  } catch (err) {
    if (mine !== page) return
    if (err instanceof ApiError && err.status === 401) {
      session.clear()
      showSignin(explain(err))
      return
    }
    paint(mine, 'Could not load this page', el('p', { class: 'error', role: 'alert' }, explain(err)), focus)
  }
}

// paint replaces the view with a page titled title, if it is still current.
function paint (mine, title, ...body) {
  if (mine !== page) return false
  const active = document.activeElement
  const key = active && $('view').contains(active) ? (active.id || active.getAttribute('href')) : null
  document.title = `${title} · certctl console`
  const h1 = el('h1', { tabindex: '-1', id: 'page-title' }, title)
  const note = flash && el('p', { class: flash.kind, role: flash.kind === 'error' ? 'alert' : 'status', id: 'flash', tabindex: '-1' }, flash.text)
  $('view').replaceChildren()
  add($('view'), [h1, note, body])
  $('view').dataset.route = location.hash // which page this is, for tests
  // A refresh keeps the focus where it was (on a link or a button).
  if (key) {
    const same = $(key) || [...$('view').querySelectorAll('a[href]')].find(a => a.getAttribute('href') === key)
    if (same) same.focus()
  }
  return true
}

function focusHeading () {
  const target = $('flash') || $('page-title')
  if (target) target.focus()
}

// refresh schedules render again after ms, for the current page only.
function refresh (mine, ms, render) {
  clearTimeout(timer)
  timer = setTimeout(() => { if (mine === page) run(mine, render, false) }, ms)
}

// ------------------------------------------------------ pending approvals

const kindLabel = { cert_issuance: 'Certificate issuance', profile_edit: 'Profile change' }

function what (a) {
  if (a.subject) {
    const others = (a.subject.dns_names || []).concat(a.subject.ip_addresses || []).filter(n => n !== a.subject.common_name)
    return others.length ? `${a.subject.common_name} (+${others.length} more)` : a.subject.common_name
  }
  const e = a.profile_edit || {}
  return `${e.create ? 'Create' : e.delete ? 'Delete' : 'Change'} profile ${a.profile_id}`
}

async function approvalsPage (mine) {
  const rows = await all('approvals', { state: 'pending', limit: 100 })
  rows.sort((x, y) => y.created_at.localeCompare(x.created_at))
  const now = Date.now()
  const painted = paint(mine, 'Pending approvals',
    el('div', { class: 'bar' },
      el('p', { class: 'help' }, `Requests waiting for a decision, newest first. The list refreshes every ${PENDING_REFRESH_MS / 1000} seconds; last at `,
        el('time', { id: 'updated' }, new Date(now).toLocaleTimeString()), '.'),
      el('button', { type: 'button', class: 'secondary', id: 'refresh', onclick: () => run(mine, () => approvalsPage(mine), false) }, 'Refresh now')),
    table('Pending approval requests', [
      { label: 'Request', cell: a => link(['approvals', a.id], what(a)) },
      { label: 'Kind', cell: a => kindLabel[a.kind] || a.kind },
      { label: 'Requested by', cell: a => a.requested_by === me.principal ? `${a.requested_by} (you)` : a.requested_by },
      { label: 'Votes', cell: a => `${(a.votes || []).length} of ${a.required_approvals || 1}` },
      { label: 'Waiting', cell: a => el('span', { title: a.created_at }, span((now - new Date(a.created_at)) / 1000)) },
      { label: 'Expires', cell: a => el('span', { title: a.expires_at }, relative(a.expires_at, now)) },
    ], rows, 'No requests are waiting for a decision.'))
  if (painted) refresh(mine, PENDING_REFRESH_MS, () => approvalsPage(mine))
}

// ------------------------------------------------------------ one request

const stateLabel = { pending: 'Pending', approved: 'Approved', rejected: 'Rejected', expired: 'Expired', bypassed: 'Bypassed' }

async function approvalPage (mine, id) {
  const [a, history] = await Promise.all([
    call(`approvals/${seg(id)}`),
    call(`approvals/${seg(id)}/history`, { query: { limit: 100 } }),
  ])
  const pending = a.state === 'pending'
  const mineToDecide = pending && me.principal === a.requested_by
  const votes = a.votes || []
  const voted = pending && votes.some(v => v.actor === me.principal)
  const now = Date.now()
  paint(mine, `${kindLabel[a.kind] || 'Approval'} request`,
    el('p', { class: `state state-${a.state}` }, el('span', { class: 'sr-only' }, 'State: '), stateLabel[a.state] || a.state),
    mineToDecide && el('p', { class: 'notice' }, 'You made this request. Two-person integrity: a different person must approve or reject it.'),
    fields([
      ['Request', a.id],
      ['Requested by', a.requested_by],
      ['Requested', [when(a.created_at), ` (${relative(a.created_at, now)})`]],
      ['Expires', pending ? [when(a.expires_at), ` (${relative(a.expires_at, now)})`] : null],
      ['Reason', a.reason || null],
      ['Decided by', a.decided_by || null],
      ['Decided', a.decided_at ? when(a.decided_at) : null],
      ['Note', a.note ? el('span', { class: 'note-text' }, a.note) : null],
      ['Approval policy', policy(a.approval_policy)],
      // A move between approval-tier profiles is decided under the source's policy too.
      ['Source profile\'s policy', a.move && a.move.from_policy ? policy(a.move.from_policy.map(f => ({ ...f, name: `from:${f.name}` }))) : null],
      ['Votes', `${votes.length} of ${a.required_approvals || 1}`],
      ['Still needed', pending && a.missing ? missing(a.missing) : null],
      ['Certificate', a.certificate_id ? link(['certificates', a.certificate_id], a.certificate_id) : null],
      ['Job', a.job_id ? link(['jobs', a.job_id], a.job_id) : null],
    ], { id: 'request' }),
    votes.length ? [el('h2', {}, 'Votes'), table('Votes so far', [
      { label: 'Who', cell: v => v.actor },
      { label: 'When', cell: v => when(v.at) },
      { label: 'Counts toward', cell: v => v.factor || '' },
      { label: 'Note', cell: v => v.note ? el('span', { class: 'note-text' }, v.note) : '', wrap: true },
    ], votes, '')] : null,
    a.subject ? subject(a.subject) : null,
    a.profile_edit ? profileEdit(a) : null,
    voted && el('p', { class: 'notice', id: 'voted' }, `You have voted on this request. It still needs ${missing(a.missing)}.`),
    pending && !voted && (has('approver') ? decideForm(mine, a) : el('p', { class: 'notice', id: 'cannot-decide' },
      `You can view this request, but deciding needs ${DECIDERS}; your key holds: ${me.roles.join(', ') || 'no role'}.`)),
    el('h2', {}, 'History'),
    table('History of this request', [
      { label: 'Time', cell: r => when(r.ts) },
      { label: 'Who', cell: r => r.actor },
      { label: 'What', cell: r => r.action },
      { label: 'Details', cell: r => brief(r.details), wrap: true },
    ], history.data, 'No history recorded yet.'))
}

// brief shows the plain values of an audit row's details; nested ones
// (the subject) are on the page already.
function brief (details) {
  const parts = Object.entries(details || {})
    .filter(([, v]) => v == null || typeof v !== 'object' || (Array.isArray(v) && v.every(x => typeof x !== 'object')))
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${show(v)}`)
  return parts.join('; ')
}

// policy shows an approval policy: each factor's count and pool.
function policy (factors) {
  if (!factors || !factors.length) return null
  return factors.map(f => `${f.name}: ${f.count} of ${pool(f.approvers || {})}`).join('; ')
}

// missing says what a pending request still needs.
function missing (m) {
  if (!m || !m.approvals) return 'nothing more'
  const from = (m.factors || []).map(f => `${f.name} (${pool(f.approvers || {})})`).join(' or ')
  return `${m.approvals} more approval${m.approvals === 1 ? '' : 's'}${from ? ' from ' + from : ''}`
}

function pool (p) {
  const parts = []
  if (p.principals && p.principals.length) parts.push(`people: ${p.principals.join(', ')}`)
  if (p.roles && p.roles.length) parts.push(`roles: ${p.roles.join(', ')}`)
  return parts.join('; ') || 'any approver'
}

function subject (s) {
  return [
    el('h2', {}, 'What will be signed'),
    fields([
      ['Common name', el('span', { class: 'name', id: 'common-name' }, s.common_name)],
      ['DNS names', list(s.dns_names)],
      ['IP addresses', list(s.ip_addresses)],
      ['Key algorithm', s.key_algorithm],
      ['Public key SHA-256', el('code', { class: 'hash' }, s.public_key_sha256)],
      ['Validity', showField('validity_seconds', s.validity_seconds)],
      ['Issuer', s.issuer_id],
      ['Key usage', show(s.key_usage)],
      ['Extended key usage', show(s.ext_key_usage)],
      ['Profile', `${s.profile_name ? s.profile_name + ' — ' : ''}${s.profile_id}, version ${s.profile_version}`],
    ], { id: 'subject' }),
  ]
}

function profileEdit (a) {
  const e = a.profile_edit
  const summary = e.create
    ? `Creates profile ${a.profile_id}.`
    : e.delete ? `Deletes profile ${a.profile_id} (at version ${e.base_version}).` : `Changes profile ${a.profile_id} from version ${e.base_version}.`
  const diff = Object.entries(e.diff || {}).sort(([x], [y]) => x.localeCompare(y))
  return [
    el('h2', {}, 'Profile change'),
    el('p', {}, summary),
    table('Fields this change sets', [
      { label: 'Field', cell: ([f]) => f.replace(/_/g, ' ') },
      { label: 'Now', cell: ([f, c]) => showField(f, c.old) },
      { label: 'Proposed', cell: ([f, c]) => showField(f, c.new) },
    ], diff, 'No field changes.'),
  ]
}

// showField shows a profile field's value; durations also in days.
function showField (name, v) {
  if (name.endsWith('_seconds') && typeof v === 'number') return `${+(v / 86400).toFixed(2)} days (${v} s)`
  return show(v)
}

function decideForm (mine, a) {
  const result = el('p', { id: 'decide-result', class: 'error', role: 'alert' })
  const note = el('textarea', { id: 'note', name: 'note', rows: 3, 'aria-describedby': 'note-help', maxlength: 2000 })
  const form = el('form', { id: 'decide', 'aria-labelledby': 'decide-title', novalidate: true },
    el('h2', { id: 'decide-title' }, 'Decision'),
    el('label', { for: 'note' }, 'Note'),
    note,
    el('p', { id: 'note-help', class: 'help' }, 'Recorded with your decision in the audit trail. Required to reject.'),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', id: 'approve', value: 'approve' }, 'Approve'),
      el('button', { type: 'submit', id: 'reject', value: 'reject', class: 'danger' }, 'Reject')),
    result)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const action = event.submitter && event.submitter.value === 'reject' ? 'reject' : 'approve'
    const text = note.value.trim()
    result.textContent = ''
    note.removeAttribute('aria-invalid')
    if (action === 'reject' && !text) {
      result.textContent = 'A rejection needs a note saying why.'
      note.setAttribute('aria-invalid', 'true')
      note.focus()
      return
    }
    const buttons = form.querySelectorAll('button')
    buttons.forEach(b => { b.disabled = true })
    const doing = action === 'approve' ? 'approving this request' : 'rejecting this request'
    let res
    try {
      res = await call(`approvals/${seg(a.id)}/${action}`, { method: 'POST', body: text ? { note: text } : {} })
    } catch (err) {
      buttons.forEach(b => { b.disabled = false })
      if (mine !== page) return
      if (err instanceof ApiError && err.status === 401) {
        session.clear()
        showSignin(explain(err))
        return
      }
      if (err instanceof ApiError && err.status === 409) {
        flash = { kind: 'error', text: explain(err, { doing }) }
        await run(mine, () => approvalPage(mine, a.id), true)
        return
      }
      result.textContent = explain(err, { doing, needs: DECIDERS })
      return
    }
    flash = action === 'reject'
      ? { kind: 'success', text: 'Rejected. Nothing will be issued or changed for this request.' }
      : res && res.action === 'voted'
        ? { kind: 'success', text: `Your vote is recorded. The request still needs ${missing(res.missing)}.` }
        : { kind: 'success', text: a.kind === 'cert_issuance' ? 'Approved. The job now issues the certificate.' : 'Approved. The profile change is applied.' }
    await run(mine, () => approvalPage(mine, a.id), true)
  })
  return form
}

// ----------------------------------------------------------- certificates

const inFlight = (c) => c.current_job_id ? link(['jobs', c.current_job_id], c.current_job_id) : el('span', { class: 'muted' }, 'none')

function expiry (iso, now) {
  if (!iso) return el('span', { class: 'muted' }, 'not issued')
  return [when(iso), ` (${relative(iso, now)})`]
}

async function certificatesPage (mine, token = '', shown = []) {
  const pageData = await call('certificates', { query: { limit: 100, page_token: token } })
  const rows = shown.concat(pageData.data)
  const now = Date.now()
  paint(mine, 'Certificates',
    table('Certificates', [
      { label: 'Certificate', cell: c => link(['certificates', c.id], c.id) },
      { label: 'Common name', cell: c => el('span', { class: 'name' }, c.common_name) },
      { label: 'Status', cell: c => c.status },
      { label: 'Expires', cell: c => expiry(c.expires_at, now) },
      { label: 'In-flight job', cell: inFlight },
    ], rows, 'No certificates yet.'),
    more(pageData.next_page_token, 'certificates', () => certificatesPage(mine, pageData.next_page_token, rows)))
}

function more (token, what, load) {
  if (!token) return null
  return el('button', { type: 'button', class: 'secondary', id: 'more', onclick: load }, `Load more ${what}`)
}

async function certificatePage (mine, id) {
  const [c, versions, jobs] = await Promise.all([
    call(`certificates/${seg(id)}`),
    call(`certificates/${seg(id)}/versions`, { query: { limit: 100 } }),
    call('jobs', { query: { certificate_id: id, limit: 20 } }),
  ])
  const now = Date.now()
  const painted = paint(mine, `Certificate ${c.id}`,
    c.current_job_id && el('p', { class: 'notice', role: 'status' }, 'A job is in flight for this certificate; this page refreshes until it ends.'),
    fields([
      ['Common name', el('span', { class: 'name' }, c.common_name)],
      ['Subject alternative names', list(c.sans)],
      ['Status', el('span', { id: 'cert-status' }, c.status)],
      ['Profile', c.profile_id],
      ['Key algorithm', c.key_algorithm],
      ['Serial number', c.serial_number ? el('code', { class: 'hash' }, c.serial_number) : null],
      ['Expires', expiry(c.expires_at, now)],
      ['Renews', c.renew_at ? when(c.renew_at) : null],
      ['In-flight job', inFlight(c)],
      ['Created by', c.created_by],
    ]),
    el('h2', {}, 'Versions'),
    table('Issued versions, newest first', [
      { label: 'Serial number', cell: v => el('code', { class: 'hash serial' }, v.serial_number), wrap: true },
      { label: 'Valid from', cell: v => when(v.not_before) },
      { label: 'Valid until', cell: v => when(v.not_after) },
      { label: 'SHA-256 fingerprint', cell: v => el('code', { class: 'hash' }, v.fingerprint_sha256), wrap: true },
      {
        label: 'Chain',
        cell: v => el('button', {
          type: 'button',
          class: 'secondary download',
          'aria-label': `Download the PEM chain of version ${v.serial_number}`,
          onclick: () => download(`${c.id}-${v.serial_number}.pem`, v.pem_chain, 'application/x-pem-file'),
        }, 'Download chain'),
      },
    ], versions.data, 'No version issued yet.'),
    el('h2', {}, 'Jobs'),
    jobTable(jobs.data, now))
  if (painted && c.current_job_id) refresh(mine, INFLIGHT_REFRESH_MS, () => certificatePage(mine, id))
}

// ------------------------------------------------------------------- jobs

function jobTable (rows, now) {
  return table('Jobs', [
    { label: 'Job', cell: j => link(['jobs', j.id], j.id) },
    { label: 'Type', cell: j => j.type },
    { label: 'Status', cell: j => j.status },
    { label: 'Certificate', cell: j => link(['certificates', j.certificate_id], j.certificate_id) },
    { label: 'Requested by', cell: j => j.requested_by },
    { label: 'Created', cell: j => el('span', { title: j.created_at }, relative(j.created_at, now)) },
    { label: 'Request', cell: j => j.approval_id ? requestLink(j) : el('span', { class: 'muted' }, 'none') },
    { label: 'Error', cell: j => j.error || '', wrap: true },
  ], rows, 'No jobs.')
}

function requestLink (j) {
  const a = link(['approvals', j.approval_id], 'view')
  a.setAttribute('aria-label', `Approval request of job ${j.id}`)
  return a
}

async function jobsPage (mine, status = '', token = '', shown = []) {
  const pageData = await call('jobs', { query: { status, limit: 100, page_token: token } })
  const rows = shown.concat(pageData.data)
  const select = el('select', { id: 'job-status', name: 'status' },
    el('option', { value: '' }, 'Any status'),
    JOB_STATUSES.map(s => el('option', { value: s, selected: s === status }, s)))
  const form = el('form', { class: 'filters', 'aria-label': 'Filter jobs', onsubmit: (e) => { e.preventDefault(); run(mine, () => jobsPage(mine, select.value), false) } },
    el('div', { class: 'field' }, el('label', { for: 'job-status' }, 'Status'), select),
    el('button', { type: 'submit' }, 'Show'))
  paint(mine, 'Jobs', form,
    jobTable(rows, Date.now()),
    more(pageData.next_page_token, 'jobs', () => jobsPage(mine, status, pageData.next_page_token, rows)))
}

async function jobPage (mine, id) {
  const j = await call(`jobs/${seg(id)}`)
  const painted = paint(mine, `Job ${j.id}`,
    fields([
      ['Type', j.type],
      ['Status', el('span', { id: 'job-status-value' }, j.status)],
      ['Certificate', link(['certificates', j.certificate_id], j.certificate_id)],
      ['Profile', j.profile_id],
      ['Requested by', j.requested_by],
      ['Needs approval', j.requires_approval ? 'yes' : 'no'],
      ['Request', j.approval_id ? link(['approvals', j.approval_id], j.approval_id) : null],
      ['Created', when(j.created_at)],
      ['Updated', when(j.updated_at)],
      ['Completed', j.completed_at ? when(j.completed_at) : null],
      ['Names', j.subject ? list(j.subject.dns_names.concat(j.subject.ip_addresses || [])) : null],
      ['Error', j.error || null],
    ]))
  const terminal = ['Completed', 'Failed', 'Cancelled'].includes(j.status)
  if (painted && !terminal) refresh(mine, INFLIGHT_REFRESH_MS, () => jobPage(mine, id))
}

// ------------------------------------------------------------------ audit

async function auditPage (mine, filter = { actor: '', resource_id: '', action: '' }, token = '', shown = []) {
  if (!has('auditor')) {
    paint(mine, 'Audit trail', el('p', { class: 'notice' },
      `The audit trail is for auditors and admins; your key holds: ${me.roles.join(', ') || 'no role'}.`))
    return
  }
  const pageData = await call('audit', { query: { ...filter, limit: 100, page_token: token } })
  const rows = shown.concat(pageData.data)
  const input = (id, label, value) => el('div', { class: 'field' },
    el('label', { for: id }, label), el('input', { id, name: id, type: 'text', value, autocomplete: 'off', spellcheck: 'false' }))
  const action = el('select', { id: 'audit-action', name: 'action' },
    el('option', { value: '' }, 'Any action'),
    AUDIT_ACTIONS.map(a => el('option', { value: a, selected: a === filter.action }, a)))
  const form = el('form', {
    class: 'filters',
    'aria-label': 'Filter the audit trail',
    onsubmit: (e) => {
      e.preventDefault()
      const f = { actor: $('audit-actor').value.trim(), resource_id: $('audit-resource').value.trim(), action: action.value }
      run(mine, () => auditPage(mine, f), false)
    },
  },
  input('audit-actor', 'Actor', filter.actor),
  input('audit-resource', 'Resource id', filter.resource_id),
  el('div', { class: 'field' }, el('label', { for: 'audit-action' }, 'Action'), action),
  el('button', { type: 'submit' }, 'Filter'))
  paint(mine, 'Audit trail', form,
    table('Audit rows, newest first', [
      { label: 'Time', cell: r => when(r.ts) },
      { label: 'Actor', cell: r => r.actor },
      { label: 'Action', cell: r => r.action },
      { label: 'Resource', cell: r => resource(r), wrap: true },
      { label: 'Details', cell: r => show(r.details), wrap: true },
    ], rows, 'No audit rows match.'),
    more(pageData.next_page_token, 'rows', () => auditPage(mine, filter, pageData.next_page_token, rows)))
}

function resource (r) {
  const routesByType = { approval: 'approvals', certificate: 'certificates', job: 'jobs' }
  const to = routesByType[r.resource_type]
  return [`${r.resource_type} `, to ? link([to, r.resource_id], r.resource_id) : r.resource_id]
}

// ------------------------------------------------------------------ start

async function start () {
  $('signin-form').addEventListener('submit', signIn)
  $('signout').addEventListener('click', signOut)
  $('skip').addEventListener('click', (e) => { e.preventDefault(); $('main').focus() })
  window.addEventListener('hashchange', route)
  const key = session.key()
  if (!key) {
    showSignin()
    return
  }
  try {
    me = await call('whoami', { key })
  } catch (err) {
    session.clear()
    showSignin(explain(err, { doing: 'signing in' }))
    return
  }
  showApp()
  route()
}

start() // modules run once the document is parsed
