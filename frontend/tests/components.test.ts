import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import Snippet from '@/components/Snippet.vue'
import QuotaBar from '@/components/QuotaBar.vue'
import Pagination from '@/components/Pagination.vue'
import { useQuotaStore } from '@/stores/quota'

describe('Snippet', () => {
  it('marks highlighted parts and keeps markup in the text as text', () => {
    const w = mount(Snippet, {
      props: {
        segments: [
          { text: 'before <b>bold</b> ', highlight: false },
          { text: 'invoice', highlight: true },
          { text: ' after', highlight: false },
        ],
      },
    })
    expect(w.findAll('mark').map((m) => m.text())).toEqual(['invoice'])
    expect(w.find('b').exists()).toBe(false)
    expect(w.text()).toContain('<b>bold</b>')
  })
})

describe('QuotaBar', () => {
  it('shows used / limit in human units and turns amber, then red', async () => {
    setActivePinia(createPinia())
    const q = useQuotaStore()
    q.limit = 100 * 1024 * 1024
    q.loaded = true
    q.setUsed(10 * 1024 * 1024)
    const w = mount(QuotaBar)
    expect(w.find('[data-testid=quota-text]').text()).toBe('10 MB of 100 MB')
    expect(w.find('[role=progressbar]').attributes('data-level')).toBe('ok')
    q.setUsed(85 * 1024 * 1024)
    await w.vm.$nextTick()
    expect(w.find('[role=progressbar]').attributes('data-level')).toBe('warn')
    expect(w.html()).toContain('bg-amber-500')
    q.setUsed(99 * 1024 * 1024)
    await w.vm.$nextTick()
    expect(w.html()).toContain('bg-red-500')
    expect(w.text()).toContain('Storage almost full')
  })
})

describe('Pagination', () => {
  it('shows an inexact total as "at least"', () => {
    const exact = mount(Pagination, { props: { page: 1, pages: 3, total: 60, label: 'documents' } })
    expect(exact.text()).toContain('60 documents · page 1 of 3')
    const capped = mount(Pagination, { props: { page: 2, pages: 40, total: 1000, exact: false, label: 'documents' } })
    expect(capped.text()).toContain('1000+ documents · page 2 of 40')
  })
})
