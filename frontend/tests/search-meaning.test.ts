import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { defineComponent, h, ref } from 'vue'
import { setAccessToken } from '@/api/client'
import SearchBox from '@/components/SearchBox.vue'
import SimilarPanel from '@/components/SimilarPanel.vue'
import { useAuthStore } from '@/stores/auth'
import { USER, json, mockFetch } from './helpers'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
  document.body.innerHTML = ''
})

const SUGGESTIONS = {
  prefix: 'invo',
  suggestions: [
    { word: 'invoice', query: 'tax invoice', documents: 12 },
    { word: 'invoices', query: 'tax invoices', documents: 1 },
  ],
}

/** The box inside a parent holding the value, as the header uses it. */
function renderBox() {
  setAccessToken('t')
  const submitted: string[] = []
  const Host = defineComponent({
    setup() {
      const q = ref('')
      return () =>
        h(SearchBox, {
          modelValue: q.value,
          'onUpdate:modelValue': (v: string) => (q.value = v),
          onSubmit: () => submitted.push(q.value),
          delayMs: 0,
        })
    },
  })
  const w = mount(Host, { attachTo: document.body })
  return { w, submitted }
}

async function type(w: ReturnType<typeof mount>, text: string) {
  const input = w.find('input[data-testid=search]')
  await input.setValue(text)
  await new Promise((r) => setTimeout(r, 5))
  await flushPromises()
}

describe('SearchBox', () => {
  it('suggests completions of the last word and searches the chosen one', async () => {
    const { calls } = mockFetch({ 'GET /api/documents/suggest': () => json(200, SUGGESTIONS) })
    const { w, submitted } = renderBox()
    await type(w, 'tax invo')
    expect(calls.map((c) => c.url)).toEqual(['/api/documents/suggest?q=tax+invo'])
    const options = w.findAll('[data-testid=search-suggestion]')
    expect(options.map((o) => o.text())).toEqual(['tax invoice12 docs', 'tax invoices1 doc'])
    const input = w.find('input')
    expect(input.attributes('aria-expanded')).toBe('true')
    await input.trigger('keydown', { key: 'ArrowDown' })
    await input.trigger('keydown', { key: 'ArrowDown' })
    expect(input.attributes('aria-activedescendant')).toBe('search-suggestion-1')
    await input.trigger('keydown', { key: 'Enter' })
    expect(submitted).toEqual(['tax invoices'])
    expect((input.element as HTMLInputElement).value).toBe('tax invoices')
    expect(w.find('[data-testid=search-suggestions]').isVisible()).toBe(false)
  })

  it('asks nothing for a single letter or a trailing space, and Enter searches what is typed', async () => {
    const { calls } = mockFetch({ 'GET /api/documents/suggest': () => json(200, SUGGESTIONS) })
    const { w, submitted } = renderBox()
    await type(w, 'i')
    await type(w, 'invoice ')
    expect(calls).toEqual([])
    await w.find('input').trigger('keydown', { key: 'Enter' })
    expect(submitted).toEqual(['invoice '])
  })

  it('shows nothing when suggestions fail', async () => {
    mockFetch({ 'GET /api/documents/suggest': () => json(500, { code: 'internal_error', message: 'x' }) })
    const { w } = renderBox()
    await type(w, 'invo')
    expect(w.findAll('[data-testid=search-suggestion]')).toHaveLength(0)
    expect(w.find('input').attributes('aria-expanded')).toBe('false')
  })
})

async function renderPanel(routes: Parameters<typeof mockFetch>[0]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
  const mock = mockFetch(routes)
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: { template: '<div />' } },
      { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
    ],
  })
  await router.push('/')
  await router.isReady()
  const w = mount(SimilarPanel, { props: { documentId: 'd1', status: 'classified' }, global: { plugins: [pinia, router] } })
  await flushPromises()
  return { w, ...mock }
}

const doc = (id: string, owner: string, handle: string) => ({
  id,
  owner_id: owner,
  owner_handle: handle,
  filename: `${id}.pdf`,
  content_type: 'application/pdf',
  size_bytes: 1,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  snippet: [{ text: 'volcano', highlight: true }],
})

describe('SimilarPanel', () => {
  it('lists similar documents with links, snippets, the sharer and the words used', async () => {
    const { w } = await renderPanel({
      'GET /api/documents/d1/similar': () =>
        json(200, { items: [doc('mine', USER.id, 'alice'), doc('theirs', 'u2', 'bob')], terms: ['volcano', 'lava'] }),
    })
    const items = w.findAll('[data-testid=similar-item]')
    expect(items).toHaveLength(2)
    expect(items[0].find('a').attributes('href')).toBe('/documents/mine')
    expect(items[0].find('[data-testid=similar-owner]').exists()).toBe(false)
    expect(items[1].find('[data-testid=similar-owner]').text()).toBe('shared by bob')
    expect(items[0].find('mark').text()).toBe('volcano')
    expect(w.find('[data-testid=similar-terms]').text()).toBe('Found by: volcano, lava')
  })

  it('says when there are none, and reloads when the document finishes processing', async () => {
    const { w, calls } = await renderPanel({ 'GET /api/documents/d1/similar': () => json(200, { items: [], terms: [] }) })
    expect(w.find('[data-testid=similar-none]').exists()).toBe(true)
    await w.setProps({ status: 'unclassified' })
    await flushPromises()
    expect(calls.filter((c) => c.url.endsWith('/similar'))).toHaveLength(2)
  })
})
