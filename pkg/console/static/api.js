// The console's API client. The key lives in this tab's session storage
// only and travels only in the X-Api-Key header, never in a URL.

const KEY = 'certctl.apiKey'
// The API is beside the console (…/console/ → …/api/v1/), under whatever
// stage prefix API Gateway serves both at.
const base = new URL('../api/v1/', document.baseURI)

export const session = {
  key: () => sessionStorage.getItem(KEY) || '',
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
}

// ApiError is a refused or failed call; status 0 means no answer at all.
export class ApiError extends Error {
  constructor (status, message, requestId) {
    super(message)
    this.status = status
    this.requestId = requestId
  }
}

// seg makes one path segment of an id. A dot segment would be resolved
// away by URL parsing and name another resource, so it is refused.
export function seg (id) {
  const s = String(id)
  if (s === '' || s === '.' || s === '..') throw new ApiError(400, `"${s}" is not an id`, '')
  return encodeURIComponent(s)
}

// call sends one request and returns the decoded JSON answer. query is an
// object of parameters; empty values are left out.
export async function call (path, { method = 'GET', query = {}, body, key = session.key() } = {}) {
  const url = new URL(path, base)
  for (const [name, value] of Object.entries(query)) {
    if (value !== '' && value != null) url.searchParams.set(name, value)
  }
  const headers = { 'X-Api-Key': key, Accept: 'application/json' }
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', redirect: 'error' }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let resp
  try {
    resp = await fetch(url, init)
  } catch {
    throw new ApiError(0, '', '')
  }
  const text = await resp.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!resp.ok) {
    const message = data && typeof data.message === 'string' ? data.message : ''
    const id = (data && typeof data.request_id === 'string' && data.request_id) || resp.headers.get('X-Request-Id') || ''
    throw new ApiError(resp.status, message, id)
  }
  return data
}

// all follows next_page_token up to pages pages; a filtered page may be
// short (even empty) and still have a next one.
export async function all (path, query = {}, pages = 5) {
  const out = []
  let token = ''
  for (let i = 0; i < pages; i++) {
    const page = await call(path, { query: { ...query, page_token: token } })
    out.push(...page.data)
    token = page.next_page_token || ''
    if (!token) break
  }
  return out
}

// explain says what went wrong in plain words. doing names the action
// ("approving this request"); needs names who may do it ("the approver or
// admin role"), for a refusal by role.
export function explain (err, { doing = 'loading this page', needs = '' } = {}) {
  if (!(err instanceof ApiError)) {
    return `Something went wrong while ${doing}. Reload the page and try again.`
  }
  const said = err.message ? ` The API said: ${err.message}` : ''
  switch (err.status) {
    case 0:
      return `The API could not be reached while ${doing}. Check your connection and try again.`
    case 400: case 413: case 415:
      return `The API refused this: ${err.message || 'the request was not valid'}`
    case 401:
      return 'Your API key was not accepted: it is unknown, revoked or expired. Sign in again with a valid key.'
    case 403:
      if (/two-person integrity/i.test(err.message)) {
        return 'You made this request, so you cannot decide it: two-person integrity means a different person must approve or reject it.'
      }
      if (/approver pool/i.test(err.message)) {
        return "You are not in this profile's approver pool, so you cannot decide its requests. One of the profile's approvers must do it."
      }
      return needs
        ? `Refused: ${doing} needs ${needs}, which your key does not hold.`
        : `Refused: your key's roles do not allow ${doing}.`
    case 404:
      return `Not found while ${doing}: check the id; it may never have existed or may have been deleted.`
    case 409:
      if (/would not count|already voted/i.test(err.message)) {
        return `Not done: ${err.message}`
      }
      return `Not done: the state changed first (someone else decided, or the request expired), so ${doing} did not apply. The page shows the current state.${said}`
    case 429:
      return 'Too many requests just now. Wait a moment and try again.'
  }
  const ref = err.requestId ? ` If it keeps failing, give an operator this reference: ${err.requestId}.` : ''
  return `The API failed while ${doing} (HTTP ${err.status}). Try again.${ref}`
}
