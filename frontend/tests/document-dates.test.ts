import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import DocumentDetailView from '@/views/DocumentDetailView.vue'
import DocumentsView from '@/views/DocumentsView.vue'
import { useAuthStore } from '@/stores/auth'
import { formatCalendarDay } from '@/lib/format'
import { dateSourceLabel } from '@/lib/wording'
import { isFiltered, paramsFromRoute, routeFromViewQuery, viewQueryFromRoute } from '@/lib/listQuery'
import { USER, json, mockFetch } from './helpers'

beforeAll(() => {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void; close?: () => void }
  if (!proto.showModal) proto.showModal = function (this: HTMLDialogElement) { this.setAttribute('open', '') }
  if (!proto.close) proto.close = function (this: HTMLDialogElement) { this.removeAttribute('open') }
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('document dates in the list query', () => {
  it('reads the date range and the date sort from the URL with the API names', () => {
    const params = paramsFromRoute({ dfrom: '2024-01-01', dto: '2024-12-31', sort: 'document_date', order: 'asc' })
    expect(params).toEqual({
      page: 1,
      per_page: 25,
      sort: 'document_date',
      order: 'asc',
      document_date_from: '2024-01-01',
      document_date_to: '2024-12-31',
    })
    expect(isFiltered({ dto: '2024-12-31' })).toBe(true)
  })

  it('keeps the range in a saved view and opens it again', () => {
    const view = viewQueryFromRoute({ dfrom: '2024-01-01', dto: '2024-03-31', page: '2' })
    expect(view).toEqual({ document_date_from: '2024-01-01', document_date_to: '2024-03-31' })
    expect(routeFromViewQuery(view)).toEqual({ dfrom: '2024-01-01', dto: '2024-03-31' })
  })
})

describe('document date wording', () => {
  it('shows a calendar day as that day in every time zone', () => {
    const text = formatCalendarDay('2024-03-01')
    expect(text).toMatch(/2024/)
    expect(text).toMatch(/\b1\b/)
    expect(text).not.toMatch(/29|Feb/)
    expect(formatCalendarDay(null)).toBe('—')
    expect(formatCalendarDay('garbage')).toBe('garbage')
  })

  it('says where a date came from in plain words', () => {
    expect(dateSourceLabel('content')).toBe('from the text')
    expect(dateSourceLabel('filename')).toBe('from the file name')
    expect(dateSourceLabel('user')).toBe('set by you')
    expect(dateSourceLabel('user', false)).toBe('set by hand')
    expect(dateSourceLabel(null)).toBeNull()
  })
})

const base = {
  id: 'd1',
  owner_id: USER.id,
  owner_handle: USER.handle,
  filename: 'letter.pdf',
  content_type: 'application/pdf',
  size_bytes: 10,
  status: 'classified',
  ai_opt_out: false,
  topics: [],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  duplicate_of: null,
  document_date: '2024-03-01',
  document_date_source: 'content',
  page_count: 15,
}

async function render(doc: Record<string, unknown>) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
  let current = { ...doc }
  const mock = mockFetch({
    'GET /api/documents/d1': () => json(200, current),
    'PATCH /api/documents/d1': (call) => {
      const body = call.body as { document_date: string | null }
      current = { ...current, document_date: body.document_date, document_date_source: 'user' }
      return json(200, current)
    },
    'GET /api/documents/d1/text': () => json(404, { code: 'not_found', message: 'no text' }),
    'GET /api/documents/d1/view': () => json(404, { code: 'not_found', message: 'no view' }),
    'GET /api/documents/d1/shares': () => json(200, { items: [] }),
    'GET /api/documents/d1/versions': () => json(200, { items: [] }),
    'GET /api/documents/d1/links': () => json(200, { items: [] }),
  })
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'documents', component: { template: '<div />' } },
      { path: '/documents/:id', name: 'document', component: DocumentDetailView },
    ],
  })
  await router.push('/documents/d1')
  await router.isReady()
  const w = mount(DocumentDetailView, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return { w, ...mock }
}

describe('document page: the document date', () => {
  it('shows the date with its source and the page count', async () => {
    const { w } = await render(base)
    expect(w.get('[data-testid=doc-date]').text()).toBe(formatCalendarDay('2024-03-01'))
    expect(w.get('[data-testid=doc-date-source]').text()).toBe('from the text')
    expect(w.get('[data-testid=doc-pages]').text()).toBe('15')
    w.unmount()
  })

  it('the owner sets a date by hand, then says the document has none', async () => {
    const { w, calls } = await render(base)
    await w.get('[data-testid=doc-date-edit]').trigger('click')
    await w.get('[data-testid=doc-date-input]').setValue('2023-12-24')
    await w.get('[data-testid=doc-date-row] form').trigger('submit')
    await flushPromises()
    const patches = () => calls.filter((c) => c.method === 'PATCH')
    expect(patches().at(-1)?.body).toEqual({ document_date: '2023-12-24' })
    expect(w.get('[data-testid=doc-date]').text()).toBe(formatCalendarDay('2023-12-24'))
    expect(w.get('[data-testid=doc-date-source]').text()).toBe('set by you')

    await w.get('[data-testid=doc-date-edit]').trigger('click')
    await w.get('[data-testid=doc-date-clear]').trigger('click')
    await flushPromises()
    expect(patches().at(-1)?.body).toEqual({ document_date: null })
    expect(w.get('[data-testid=doc-date]').text()).toBe('None')
    w.unmount()
  })

  it('a shared document shows its date but offers no edit', async () => {
    const { w } = await render({ ...base, owner_id: 'someone-else', owner_handle: 'bob', document_date_source: 'user' })
    expect(w.get('[data-testid=doc-date-source]').text()).toBe('set by hand')
    expect(w.find('[data-testid=doc-date-edit]').exists()).toBe(false)
    w.unmount()
  })
})

describe('documents list: the document date', () => {
  it('shows each date with where it came from, offers the date sort and sends it', async () => {
    const pinia = createPinia()
    setActivePinia(pinia)
    setAccessToken('t')
    useAuthStore().user = { ...USER }
    const { calls } = mockFetch({
      'GET /api/documents': () =>
        json(200, {
          items: [base, { ...base, id: 'd2', filename: 'undated.pdf', document_date: null, document_date_source: null }],
          total: 2,
          total_exact: true,
          page: 1,
          per_page: 25,
        }),
      'GET /api/topics': () => json(200, []),
      'GET /api/folders': () => json(200, []),
    })
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/', name: 'documents', component: DocumentsView },
        { path: '/documents/:id', name: 'document', component: { template: '<div />' } },
      ],
    })
    await router.push('/?sort=document_date&order=asc&dfrom=2024-01-01')
    await router.isReady()
    const w = mount(DocumentsView, { global: { plugins: [pinia, router] } })
    await flushPromises()
    const dates = w.findAll('[data-testid=doc-date]')
    expect(dates).toHaveLength(1)
    expect(dates[0].text()).toContain(formatCalendarDay('2024-03-01'))
    expect(dates[0].attributes('title')).toBe('Document date 2024-03-01 (from the text)')
    const sort = w.get('#sort').element as HTMLSelectElement
    expect(sort.value).toBe('document_date:asc')
    expect([...sort.options].map((o) => o.value)).toContain('document_date:desc')
    const listed = calls.find((c) => c.url.startsWith('/api/documents?'))!
    const query = new URL(listed.url, 'http://x').searchParams
    expect(query.get('sort')).toBe('document_date')
    expect(query.get('document_date_from')).toBe('2024-01-01')
    w.unmount()
  })
})
