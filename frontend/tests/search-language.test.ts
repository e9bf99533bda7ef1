import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { setAccessToken } from '@/api/client'
import SearchSettings from '@/views/settings/SearchSettings.vue'
import { useAuthStore } from '@/stores/auth'
import { useToastStore } from '@/stores/toasts'
import { USER, json, mockFetch } from './helpers'

let pinia: Pinia
beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})
const opts = () => ({ global: { plugins: [pinia] }, attachTo: document.body })

describe('SearchSettings', () => {
  it("shows the account's language and saves another one", async () => {
    const { calls } = mockFetch({
      'PATCH /api/auth/me': (c) => json(200, { ...USER, ...(c.body as object) }),
    })
    const w = mount(SearchSettings, opts())
    expect((w.get('[data-testid=search-language-english]').element as HTMLInputElement).checked).toBe(true)
    await w.get('[data-testid=search-language-german]').setValue(true)
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(calls).toHaveLength(1)
    expect(calls[0].body).toEqual({ search_language: 'german' })
    expect(useAuthStore().user?.search_language).toBe('german')
    expect(useToastStore().items.at(-1)?.text).toContain('being prepared')
  })

  it('shows a refusal in words', async () => {
    mockFetch({
      'PATCH /api/auth/me': () =>
        json(422, { code: 'validation_failed', message: 'search_language must be one of simple, english, german' }),
    })
    const w = mount(SearchSettings, opts())
    await w.get('[data-testid=search-language-simple]').setValue(true)
    await w.get('form').trigger('submit')
    await flushPromises()
    expect(w.get('[role=alert]').text()).toBe('search_language must be one of simple, english, german')
    expect(useAuthStore().user?.search_language).toBe('english')
  })
})
