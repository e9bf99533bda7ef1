// Why this topic (issue 18): the words behind automatic topics, suggestions with Accept /
// Reject, and the document page answering the classifier.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { setAccessToken } from '@/api/client'
import TopicFeedback from '@/components/TopicFeedback.vue'
import DocumentDetailView from '@/views/DocumentDetailView.vue'
import { useAuthStore } from '@/stores/auth'
import { useToastStore } from '@/stores/toasts'
import { evidenceWords, suggestionLabel, topicAnswerMessage, whyTopic } from '@/lib/wording'
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

const words = [
  { term: 'refund', weight: 0.2 },
  { term: 'tax', weight: 0.9 },
  { term: 'assessment', weight: 0.4 },
]

describe('words for the classifier', () => {
  it('names the words heaviest first, each once, at most five', () => {
    expect(evidenceWords(words)).toBe('tax, assessment and refund')
    expect(evidenceWords([{ term: 'tax', weight: 1 }])).toBe('tax')
    expect(evidenceWords([])).toBe('')
    expect(evidenceWords(undefined)).toBe('')
    expect(evidenceWords([...words, { term: 'tax', weight: 0.1 }, { term: ' ', weight: 5 }])).toBe('tax, assessment and refund')
    const many = 'abcdefg'.split('').map((t, i) => ({ term: t, weight: 10 - i }))
    expect(evidenceWords(many)).toBe('a, b, c, d and e')
    expect(evidenceWords(many, 2)).toBe('a and b')
  })

  it('says why, or that no words were given', () => {
    expect(whyTopic(words)).toBe('Words that weighed most: tax, assessment and refund.')
    expect(whyTopic([])).toBe('The classifier gave no words for this topic.')
  })

  it('labels suggestions and answers in plain words', () => {
    expect(suggestionLabel(0.344)).toBe('34 % sure · suggested')
    expect(suggestionLabel(1.7)).toBe('100 % sure · suggested')
    expect(suggestionLabel(null)).toBe('suggested')
    expect(suggestionLabel(Number.NaN)).toBe('suggested')
    expect(topicAnswerMessage('accept', 'Taxes')).toBe('Filed under Taxes. New documents like it will be too.')
    expect(topicAnswerMessage('reject', 'Taxes')).toBe('Taxes taken off. It will not come back for this document.')
  })
})

const taxes = { id: 't1', name: 'Taxes', color: '#ef4444', source: 'ai' as const, confidence: 0.78, evidence: words }
const mine = { id: 't2', name: 'Receipts', color: null, source: 'user' as const, confidence: null }
const suggestion = { topic_id: 't3', name: 'Health', color: null, confidence: 0.34, evidence: [{ term: 'doctor', weight: 0.5 }] }

describe('TopicFeedback', () => {
  it('automatic topics explain themselves on request; the owner can take them off', async () => {
    const w = mount(TopicFeedback, { props: { topics: [taxes, mine], canAnswer: true } })
    const why = w.findAll('[data-testid=topic-why]')
    expect(why).toHaveLength(1)
    expect(why[0].attributes('aria-expanded')).toBe('false')
    expect(w.find('[data-testid=topic-why-text]').exists()).toBe(false)
    await why[0].trigger('click')
    expect(why[0].attributes('aria-expanded')).toBe('true')
    const text = w.get('[data-testid=topic-why-text]')
    expect(text.text()).toContain('Taxes · Words that weighed most: tax, assessment and refund.')
    expect(text.attributes('id')).toBe(why[0].attributes('aria-controls'))
    await why[0].trigger('click')
    expect(w.find('[data-testid=topic-why-text]').exists()).toBe(false)
    // Only the automatic topic can be rejected here (a hand-picked one is edited).
    const reject = w.findAll('[data-testid=topic-reject]')
    expect(reject).toHaveLength(1)
    expect(reject[0].attributes('aria-label')).toBe('Not Taxes: take this topic off')
    await reject[0].trigger('click')
    expect(w.emitted('answer')).toEqual([['t1', 'reject', 'Taxes']])
    expect(w.find('[data-testid=suggested-topics]').exists()).toBe(false)
  })

  it('suggestions come with Accept and Reject, for the owner only', async () => {
    const w = mount(TopicFeedback, { props: { topics: [], suggestions: [suggestion], canAnswer: true }, slots: { empty: '<p data-testid="none">No topic yet.</p>' } })
    expect(w.find('[data-testid=none]').exists()).toBe(true)
    const row = w.get('[data-suggestion=Health]')
    expect(row.get('[data-testid=suggestion-how]').text()).toBe('34 % sure · suggested')
    expect(row.get('[data-testid=suggestion-why]').text()).toBe('Because of doctor')
    await row.get('[data-testid=suggestion-accept]').trigger('click')
    await row.get('[data-testid=suggestion-reject]').trigger('click')
    expect(w.emitted('answer')).toEqual([
      ['t3', 'accept', 'Health'],
      ['t3', 'reject', 'Health'],
    ])
    // While an answer is on its way, its buttons wait.
    await w.setProps({ busy: 't3' })
    expect(row.get('[data-testid=suggestion-accept]').attributes('disabled')).toBeDefined()
    // Someone it is shared with (or a trashed document): no buttons.
    const viewer = mount(TopicFeedback, { props: { topics: [taxes], suggestions: [suggestion], canAnswer: false, byYou: false } })
    expect(viewer.find('[data-testid=suggestion-accept]').exists()).toBe(false)
    expect(viewer.find('[data-testid=topic-reject]').exists()).toBe(false)
    expect(viewer.find('[data-testid=topic-why]').exists()).toBe(true)
  })
})

const base = {
  id: 'd1',
  owner_id: USER.id,
  owner_handle: 'alice',
  filename: 'letter.txt',
  content_type: 'text/plain',
  size_bytes: 10,
  status: 'unclassified',
  ai_opt_out: false,
  topics: [] as unknown[],
  suggested_topics: [suggestion],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

async function render(routes: Parameters<typeof mockFetch>[0]) {
  const pinia = createPinia()
  setActivePinia(pinia)
  setAccessToken('t')
  useAuthStore().user = { ...USER }
  const mock = mockFetch({
    'GET /api/documents/d1/text': () => json(404, { code: 'not_found', message: 'no text' }),
    'GET /api/documents/d1/view': () => json(404, { code: 'not_found', message: 'no view' }),
    'GET /api/documents/d1/shares': () => json(200, { items: [] }),
    'GET /api/documents/d1/versions': () => json(200, { items: [] }),
    'GET /api/topics': () => json(200, { items: [] }),
    ...routes,
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

describe('the document page answers the classifier', () => {
  it('accepting a suggestion files the document under it', async () => {
    const { w, calls } = await render({
      'GET /api/documents/d1': () => json(200, base),
      'POST /api/documents/d1/topics/t3/accept': () =>
        json(200, { ...base, status: 'classified', suggested_topics: [], topics: [{ id: 't3', name: 'Health', color: null, source: 'user', confidence: null }] }),
    })
    expect(w.get('[data-testid=suggested-topics]').text()).toContain('Suggested topics')
    await w.get('[data-testid=suggestion-accept]').trigger('click')
    await flushPromises()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/documents/d1/topics/t3/accept')).toBe(true)
    expect(w.find('[data-testid=suggested-topics]').exists()).toBe(false)
    expect(w.get('[data-topic=Health] [data-testid=topic-how]').text()).toContain('chosen by you')
    expect(useToastStore().items.at(-1)?.text).toBe('Filed under Health. New documents like it will be too.')
    w.unmount()
  })

  it('rejecting an automatic topic takes it off; a failure says why and changes nothing', async () => {
    let fail = true
    const { w, calls } = await render({
      'GET /api/documents/d1': () => json(200, { ...base, status: 'classified', suggested_topics: [], topics: [taxes] }),
      'POST /api/documents/d1/topics/t1/reject': () =>
        fail ? json(409, { code: 'document_trashed', message: 'The document is in the trash; restore it first' }) : json(200, { ...base, suggested_topics: [], topics: [] }),
    })
    await w.get('[data-testid=topic-why]').trigger('click')
    expect(w.get('[data-testid=topic-why-text]').text()).toContain('tax, assessment and refund')
    await w.get('[data-testid=topic-reject]').trigger('click')
    await flushPromises()
    expect(useToastStore().items.at(-1)?.text).toContain('restore it first')
    expect(w.find('[data-topic=Taxes]').exists()).toBe(true)
    fail = false
    await w.get('[data-testid=topic-reject]').trigger('click')
    await flushPromises()
    expect(calls.filter((c) => c.method === 'POST' && c.url === '/api/documents/d1/topics/t1/reject')).toHaveLength(2)
    expect(w.find('[data-topic=Taxes]').exists()).toBe(false)
    expect(w.text()).toContain('No topic yet.')
    expect(useToastStore().items.at(-1)?.text).toBe('Taxes taken off. It will not come back for this document.')
    w.unmount()
  })
})
