import { vi } from 'vitest'

export interface Call {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

type Handler = (call: Call) => Response | Promise<Response>

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

/** Replaces global fetch with a list of routes ("METHOD /path" → handler); records calls. */
export function mockFetch(routes: Record<string, Handler>) {
  const calls: Call[] = []
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input)
    const method = (init.method ?? 'GET').toUpperCase()
    const headers = Object.fromEntries(Object.entries((init.headers as Record<string, string>) ?? {}))
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : init.body
    const call = { method, url, headers, body }
    calls.push(call)
    const path = url.split('?')[0]
    const handler = routes[`${method} ${path}`]
    if (!handler) return json(404, { code: 'not_found', message: `no mock for ${method} ${path}` })
    return handler(call)
  })
  vi.stubGlobal('fetch', fn)
  return { calls, fn }
}

export const USER = {
  id: '11111111-1111-1111-1111-111111111111',
  handle: 'alice',
  email: 'alice@example.com',
  role: 'user' as const,
  is_active: true,
  totp_enabled: false,
  password_must_change: false,
  ai_provider: null,
  ai_model: null,
  ai_api_key_set: false,
  ai_allow_new_topics: false,
  ocr_languages: null,
  ocr_ai_fallback: false,
  search_language: 'english' as const,
  created_at: '2026-01-01T00:00:00Z',
}

export function tokens(token = 'access-1', user: object = USER) {
  return { access_token: token, token_type: 'Bearer', expires_in: 900, user }
}

/** A stand-in for XMLHttpRequest that the test drives by hand. */
export class FakeXhr {
  static instances: FakeXhr[] = []
  method = ''
  url = ''
  headers: Record<string, string> = {}
  body: unknown = null
  status = 0
  aborted = false
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  constructor() {
    FakeXhr.instances.push(this)
  }
  open(method: string, url: string) {
    this.method = method
    this.url = url
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v
  }
  send(body: unknown) {
    this.body = body
  }
  abort() {
    this.aborted = true
    this.onabort?.()
  }
  // Test controls:
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true })
  }
  respond(status: number) {
    this.status = status
    this.onload?.()
  }
}

export const flush = () => new Promise((r) => setTimeout(r, 0))

/** Sets (or removes) the readable cookie the server sets beside the refresh cookie. */
export function sessionMarker(present: boolean) {
  document.cookie = present ? 'docuvault_session=1; path=/' : 'docuvault_session=; path=/; max-age=0'
}

/** jsdom has <dialog> without the modal API: opening and closing set `open`. */
export function installDialog() {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void; close?: () => void }
  if (!proto.showModal) proto.showModal = function (this: HTMLDialogElement) { this.setAttribute('open', '') }
  if (!proto.close) proto.close = function (this: HTMLDialogElement) { this.removeAttribute('open') }
}
