import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { accessToken, setAccessToken } from '@/api/client'
import { useAuthStore } from '@/stores/auth'
import { json, mockFetch, sessionMarker, tokens, USER } from './helpers'

beforeEach(() => {
  setActivePinia(createPinia())
  setAccessToken(null)
  sessionMarker(true)
})
afterEach(() => vi.unstubAllGlobals())

describe('auth store', () => {
  it('asks for the second factor, then signs in with the TOTP code in cookie mode', async () => {
    const { calls } = mockFetch({
      'POST /api/auth/login': (c) => {
        const b = c.body as Record<string, string>
        if (!b.totp_code) return json(200, { requires_totp: true })
        return json(200, { requires_totp: false, ...tokens('acc') })
      },
    })
    const auth = useAuthStore()
    expect(await auth.login('alice', 'pw')).toBe('second_factor')
    expect(auth.signedIn).toBe(false)
    expect(await auth.login('alice', 'pw', { totp_code: '123456' })).toBe('signed_in')
    expect(auth.user?.handle).toBe('alice')
    expect(accessToken()).toBe('acc')
    for (const c of calls) expect((c.body as { session: string }).session).toBe('cookie')
    expect(localStorage.length).toBe(0)
  })

  it('restores the session from the refresh cookie on page load', async () => {
    mockFetch({ 'POST /api/auth/refresh': () => json(200, tokens('fresh')) })
    const auth = useAuthStore()
    await auth.init()
    expect(auth.ready).toBe(true)
    expect(auth.user?.id).toBe(USER.id)
    expect(accessToken()).toBe('fresh')
  })

  it('starts signed out when there is no session', async () => {
    mockFetch({ 'POST /api/auth/refresh': () => json(401, { code: 'invalid_refresh_token', message: 'No refresh token was sent' }) })
    const auth = useAuthStore()
    await auth.init()
    expect(auth.ready).toBe(true)
    expect(auth.signedIn).toBe(false)
  })

  it('does not ask the server on a signed-out page load (no marker cookie: no refresh, no 401)', async () => {
    sessionMarker(false)
    const { calls } = mockFetch({ 'POST /api/auth/refresh': () => json(401, { code: 'invalid_refresh_token', message: 'No refresh token was sent' }) })
    const auth = useAuthStore()
    await auth.init()
    expect(auth.ready).toBe(true)
    expect(auth.signedIn).toBe(false)
    expect(calls).toHaveLength(0)
  })

  it('flags a forced password change and clears it after the change', async () => {
    mockFetch({
      'POST /api/auth/login': () => json(200, { requires_totp: false, ...tokens('a', { ...USER, password_must_change: true }) }),
      'POST /api/auth/password': () => json(200, tokens('b')),
    })
    const auth = useAuthStore()
    await auth.login('alice', 'temp-pass')
    expect(auth.mustChangePassword).toBe(true)
    await auth.changePassword('temp-pass', 'a-new-password')
    expect(auth.mustChangePassword).toBe(false)
    expect(accessToken()).toBe('b')
  })

  it('signs out locally even when the server already forgot the session', async () => {
    mockFetch({
      'POST /api/auth/login': () => json(200, { requires_totp: false, ...tokens('a') }),
      'POST /api/auth/logout': () => json(401, { code: 'unauthorized', message: 'gone' }),
      'POST /api/auth/refresh': () => json(401, { code: 'invalid_refresh_token', message: 'gone' }),
    })
    const auth = useAuthStore()
    await auth.login('alice', 'pw')
    await auth.logout()
    expect(auth.user).toBeNull()
    expect(accessToken()).toBeNull()
  })
})
