import { defineStore } from 'pinia'
import { api, onSessionChange, refreshSession, setAccessToken } from '@/api/client'
import type {
  AccessTokenResponse,
  LoginResponse,
  RegisterRequest,
  TokenResponse,
  UpdateMeRequest,
  UserView,
} from '@/api/types'

export type LoginResult = 'signed_in' | 'second_factor'

export interface SecondFactorInput {
  totp_code?: string
  backup_code?: string
}

/** The signed-in account and session. The refresh token lives only in the HttpOnly
 * cookie the server sets (`session: "cookie"`); the access token only in memory. */
export const useAuthStore = defineStore('auth', {
  state: () => ({
    user: null as UserView | null,
    /** True once the first silent refresh on page load has finished. */
    ready: false,
    /** Why the last session ended on its own (shown on the sign-in page). */
    endedReason: null as string | null,
  }),
  getters: {
    signedIn: (s) => s.user !== null,
    isAdmin: (s) => s.user?.role === 'admin',
    mustChangePassword: (s) => s.user?.password_must_change === true,
  },
  actions: {
    /** Restores the session from the refresh cookie, once per page load. */
    async init(): Promise<void> {
      if (this.ready) return
      onSessionChange((tokens) => {
        if (tokens) {
          this.user = tokens.user
        } else if (this.user) {
          this.user = null
          this.endedReason = 'Your session has ended. Please sign in again.'
        }
      })
      try {
        const tokens = await refreshSession()
        this.user = tokens?.user ?? null
      } finally {
        this.ready = true
      }
    },

    adopt(tokens: { access_token: string; expires_in: number; user: UserView }): void {
      setAccessToken(tokens.access_token, tokens.expires_in)
      this.user = tokens.user
      this.endedReason = null
    },

    async login(login: string, password: string, second: SecondFactorInput = {}): Promise<LoginResult> {
      const res = await api.post<LoginResponse>(
        '/api/auth/login',
        { login, password, session: 'cookie', ...second },
        { auth: false },
      )
      // `requires_totp` tells the two answers apart (LoginSecondFactorRequired | LoginTokens).
      if (res.requires_totp) return 'second_factor'
      this.adopt(res)
      return 'signed_in'
    },

    async register(input: Omit<RegisterRequest, 'session'>): Promise<void> {
      const res = await api.post<TokenResponse>('/api/auth/register', { ...input, session: 'cookie' }, { auth: false })
      this.adopt(res)
    },

    async logout(): Promise<void> {
      try {
        await api.post('/api/auth/logout')
      } catch {
        // Already gone: signing out locally is what matters.
      }
      setAccessToken(null)
      this.user = null
    },

    async reload(): Promise<void> {
      this.user = await api.get<UserView>('/api/auth/me')
    },

    async updateMe(patch: UpdateMeRequest): Promise<UserView> {
      const user = await api.patch<UserView>('/api/auth/me', patch)
      this.user = user
      return user
    },

    async changePassword(current: string, next: string): Promise<void> {
      const res = await api.post<AccessTokenResponse>('/api/auth/password', {
        current_password: current,
        new_password: next,
      })
      this.adopt(res)
    },

    /** After 2FA is switched off the server hands out a new access token. */
    adoptAccess(res: AccessTokenResponse): void {
      this.adopt(res)
    },
  },
})
