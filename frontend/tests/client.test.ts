import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, accessToken, errorMessage, onSessionChange, refreshSession, setAccessToken } from '@/api/client'
import { json, mockFetch, sessionMarker, tokens } from './helpers'

beforeEach(() => {
  setAccessToken(null)
  onSessionChange(null)
  sessionMarker(true)
})
afterEach(() => {
  vi.unstubAllGlobals()
})

describe('api client', () => {
  it('sends the bearer token and never a refresh token in the body', async () => {
    setAccessToken('tok')
    const { calls } = mockFetch({ 'GET /api/auth/me/quota': () => json(200, { used_bytes: 1, limit_bytes: 2 }) })
    await api.get('/api/auth/me/quota')
    expect(calls[0].headers.Authorization).toBe('Bearer tok')
  })

  it('refreshes once on 401 through the cookie and retries with the new token', async () => {
    setAccessToken('old')
    let first = true
    const { calls } = mockFetch({
      'GET /api/documents': (c) => {
        if (first) {
          first = false
          return json(401, { code: 'token_expired', message: 'expired' })
        }
        expect(c.headers.Authorization).toBe('Bearer new')
        return json(200, { items: [], total: 0, page: 1, per_page: 25, total_exact: true })
      },
      'POST /api/auth/refresh': () => json(200, tokens('new')),
    })
    const res = await api.get<{ total: number }>('/api/documents')
    expect(res.total).toBe(0)
    const refresh = calls.filter((c) => c.url === '/api/auth/refresh')
    expect(refresh).toHaveLength(1)
    // Cookie mode: no body, so no token in JavaScript's hands.
    expect(refresh[0].body).toBeUndefined()
    expect(accessToken()).toBe('new')
  })

  it('shares one refresh between concurrent callers (a rotated cookie must not be reused)', async () => {
    let resolve!: (r: Response) => void
    const { calls } = mockFetch({ 'POST /api/auth/refresh': () => new Promise<Response>((r) => (resolve = r)) })
    const a = refreshSession()
    const b = refreshSession()
    await Promise.resolve()
    resolve(json(200, tokens('t2')))
    const [ra, rb] = await Promise.all([a, b])
    expect(ra?.access_token).toBe('t2')
    expect(rb).toBe(ra)
    expect(calls).toHaveLength(1)
  })

  it('sends no refresh without the session marker cookie, and ends a session whose cookies are gone', async () => {
    sessionMarker(false)
    const { calls } = mockFetch({ 'POST /api/auth/refresh': () => json(401, { code: 'invalid_refresh_token', message: 'No refresh token was sent' }) })
    expect(await refreshSession()).toBeNull()
    expect(calls).toHaveLength(0)

    setAccessToken('old')
    const seen: unknown[] = []
    onSessionChange((t) => seen.push(t))
    mockFetch({ 'GET /api/auth/me': () => json(401, { code: 'token_expired', message: 'expired' }) })
    await expect(api.get('/api/auth/me')).rejects.toMatchObject({ status: 401 })
    expect(accessToken()).toBeNull()
    expect(seen).toEqual([null])
  })

  it('ends the session when the refresh cookie is refused', async () => {
    setAccessToken('old')
    const seen: unknown[] = []
    onSessionChange((t) => seen.push(t))
    mockFetch({
      'GET /api/auth/me': () => json(401, { code: 'token_expired', message: 'expired' }),
      'POST /api/auth/refresh': () => json(401, { code: 'invalid_refresh_token', message: 'nope' }),
    })
    await expect(api.get('/api/auth/me')).rejects.toMatchObject({ status: 401 })
    expect(accessToken()).toBeNull()
    expect(seen).toEqual([null])
  })

  it('reads code, message and Retry-After from errors', async () => {
    mockFetch({
      'POST /api/auth/login': () => json(429, { code: 'rate_limited', message: 'slow down' }, { 'Retry-After': '42' }),
    })
    const err = (await api.post("/api/auth/login", {}, { auth: false }).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('rate_limited')
    expect(err.retryAfter).toBe(42)
    expect(errorMessage(err)).toContain('42 seconds')
  })

  it('renews the access token shortly before it expires', async () => {
    vi.useFakeTimers()
    try {
      const { calls } = mockFetch({ 'POST /api/auth/refresh': () => json(200, { ...tokens('t3'), expires_in: 900 }) })
      setAccessToken('t1', 60)
      await vi.advanceTimersByTimeAsync(29_000)
      expect(calls).toHaveLength(0)
      await vi.advanceTimersByTimeAsync(2_000)
      expect(calls).toHaveLength(1)
    } finally {
      vi.useRealTimers()
    }
  })
})
