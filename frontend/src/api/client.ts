// The one place that talks HTTP to the API: bearer token in memory only, silent
// refresh through the HttpOnly `docuvault_refresh` cookie (never readable here), and
// errors turned into `ApiError` with the server's `{code, message}`.
import type { ErrorCode, TokenResponse } from './types'

/**
 * The `code` of a failed call: one of the server's generated `ErrorCode`s, or `http_<status>`
 * when the answer had no JSON error body (e.g. a proxy's 502).
 */
export type ApiErrorCode = ErrorCode | `http_${number}`

/** An API call that failed, with what the server said. */
export class ApiError extends Error {
  readonly status: number
  readonly code: ApiErrorCode
  /** Seconds from `Retry-After` on 429/503. */
  readonly retryAfter: number | null
  /** The parsed error body (`ErrorBody`; `detail` holds the quota numbers of `quota_exceeded`). */
  readonly body: unknown

  constructor(status: number, code: ApiErrorCode, message: string, retryAfter: number | null = null, body: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
    this.body = body
  }
}

/** Turns any thrown value into words for the user. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 429) {
      return e.retryAfter != null
        ? `Too many attempts. Please wait ${formatWait(e.retryAfter)} and try again.`
        : 'Too many attempts. Please wait a moment and try again.'
    }
    return e.message || `Request failed (HTTP ${e.status})`
  }
  if (e instanceof Error) return e.message
  return String(e)
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`
  const m = Math.ceil(seconds / 60)
  return `${m} minute${m === 1 ? '' : 's'}`
}

export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null
  let code: ApiErrorCode = `http_${res.status}`
  let message = res.statusText || `HTTP ${res.status}`
  try {
    body = await res.json()
    if (body && typeof body === 'object') {
      const b = body as { code?: unknown; message?: unknown }
      // The server sends only `ErrorCode`s (the spec's enumeration).
      if (typeof b.code === 'string') code = b.code as ErrorCode
      if (typeof b.message === 'string') message = b.message
    }
  } catch {
    // Not JSON: keep the status text.
  }
  const ra = res.headers.get('Retry-After')
  const retryAfter = ra != null && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : null
  return new ApiError(res.status, code, message, retryAfter, body)
}

type SessionListener = (tokens: TokenResponse | null) => void

const state = {
  token: null as string | null,
  refreshing: null as Promise<TokenResponse | null> | null,
  listener: null as SessionListener | null,
  timer: null as ReturnType<typeof setTimeout> | null,
}

/** The current access token (memory only). */
export function accessToken(): string | null {
  return state.token
}

/** Called with every new session from a refresh, or `null` when the session ended. */
export function onSessionChange(fn: SessionListener | null): void {
  state.listener = fn
}

/** Stores a fresh access token and schedules its silent renewal shortly before expiry. */
export function setAccessToken(token: string | null, expiresIn?: number): void {
  state.token = token
  if (state.timer) clearTimeout(state.timer)
  state.timer = null
  if (token && expiresIn && expiresIn > 0) {
    const ms = Math.max(5, expiresIn - 30) * 1000
    state.timer = setTimeout(() => void refreshSession(), ms)
  }
}

/** Runs `fn` under a cross-tab lock so two tabs never present the same rotating
 * refresh cookie at once (a reused refresh token revokes the whole session). */
async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? (navigator as Navigator & { locks?: LockManager }).locks : undefined
  if (locks?.request) return locks.request('docuvault-refresh', fn) as Promise<T>
  return fn()
}

/** The readable cookie the server sets and clears with the HttpOnly refresh cookie. */
export const SESSION_MARKER_COOKIE = 'docuvault_session'

/** Whether a refresh cookie is likely there: the server's marker cookie is set. Without
 * it a refresh could only be refused, so none is sent (no 401 on a signed-out page). */
export function sessionLikely(): boolean {
  if (typeof document === 'undefined') return false
  return document.cookie.split(';').some((c) => c.trim().startsWith(`${SESSION_MARKER_COOKIE}=`) && c.trim() !== `${SESSION_MARKER_COOKIE}=`)
}

/** Exchanges the refresh cookie for a new access token. Concurrent callers share one
 * request. Resolves `null` when there is no valid session (at once, without a request,
 * when the marker cookie says there is none). */
export function refreshSession(): Promise<TokenResponse | null> {
  if (!state.refreshing && !sessionLikely()) {
    if (state.token) {
      // Signed out elsewhere (another tab, or the cookies were cleared): end it here too.
      setAccessToken(null)
      state.listener?.(null)
    }
    return Promise.resolve(null)
  }
  if (!state.refreshing) {
    state.refreshing = withRefreshLock(async () => {
      let res: Response
      try {
        res = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' })
      } catch {
        return null
      }
      if (!res.ok) {
        // 429 or 5xx: keep what we have, the next call retries; anything else ends it.
        if (res.status === 429 || res.status >= 500) return null
        setAccessToken(null)
        state.listener?.(null)
        return null
      }
      const body = (await res.json()) as TokenResponse
      setAccessToken(body.access_token, body.expires_in)
      state.listener?.(body)
      return body
    }).finally(() => {
      state.refreshing = null
    })
  }
  return state.refreshing
}

export interface RequestOptions {
  body?: unknown
  query?: Record<string, string | number | boolean | null | undefined>
  /** Send the bearer token and refresh once on 401 (default true). */
  auth?: boolean
  signal?: AbortSignal
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue
    q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

/** Calls the API and returns the parsed JSON (undefined for 204). */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const auth = opts.auth !== false
  const url = buildUrl(path, opts.query)
  const send = () => {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    if (auth && state.token) headers.Authorization = `Bearer ${state.token}`
    return fetch(url, {
      method,
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      credentials: 'same-origin',
      signal: opts.signal,
    })
  }
  let res = await send()
  if (res.status === 401 && auth) {
    const renewed = await refreshSession()
    if (renewed) res = await send()
  }
  if (!res.ok) throw await toApiError(res)
  if (res.status === 204) {
    return undefined as T
  }
  // 202 may carry a body (a queued webhook delivery) or none.
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const api = {
  get: <T>(path: string, query?: RequestOptions['query'], signal?: AbortSignal) =>
    request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('POST', path, { ...opts, body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  del: (path: string) => request<void>('DELETE', path),
}
