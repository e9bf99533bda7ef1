import { describe, expect, it } from 'vitest'
import { emptyKind, isFiltered, paramsFromRoute, patchQuery, routeFromViewQuery, sameView, viewQueryFromRoute } from '@/lib/listQuery'

describe('list query in the URL', () => {
  it('reads every filter of the URL into the list request', () => {
    const params = paramsFromRoute({
      page: '3',
      q: 'tax',
      topic: 't1',
      folder: 'f1',
      subfolders: '1',
      status: 'failed',
      type: 'application/pdf,image/png',
      from: '2026-01-01',
      to: '2026-03-31',
      min: '1024',
      max: '2048',
      shared: '1',
      duplicates: 'true',
    })
    expect(params).toEqual({
      page: 3,
      per_page: 25,
      q: 'tax',
      topic: 't1',
      folder_id: 'f1',
      include_subfolders: true,
      status: 'failed',
      content_type: 'application/pdf,image/png',
      created_from: '2026-01-01',
      created_to: '2026-03-31',
      size_min: 1024,
      size_max: 2048,
      include_shared: true,
      duplicates: true,
    })
  })

  it('defaults: newest first for a list, relevance for a search', () => {
    expect(paramsFromRoute({})).toEqual({ page: 1, per_page: 25, sort: 'created_at', order: 'desc' })
    expect(paramsFromRoute({ q: 'x' })).toEqual({ page: 1, per_page: 25, q: 'x' })
    expect(paramsFromRoute({ q: 'x', sort: 'name' })).toEqual({ page: 1, per_page: 25, q: 'x', sort: 'name', order: 'desc' })
  })

  it('ignores values that cannot be meant: bad pages and sizes, flags off, sub-folders without a folder', () => {
    expect(paramsFromRoute({ page: '-2', min: '1e3', max: 'big', shared: '0', subfolders: '1' })).toEqual({
      page: 1,
      per_page: 25,
      sort: 'created_at',
      order: 'desc',
    })
    expect(paramsFromRoute({ page: ['2', '5'], q: ['a', 'b'] })).toMatchObject({ page: 2, q: 'a' })
  })

  it('turns the URL into a saved view query with the API names and back', () => {
    const url = { q: 'tax', folder: 'f1', subfolders: '1', type: 'application/pdf', from: '2026-01-01', min: '10', shared: '1', sort: 'size', order: 'asc', page: '4' }
    const view = viewQueryFromRoute(url)
    expect(view).toEqual({
      q: 'tax',
      folder_id: 'f1',
      include_subfolders: true,
      content_type: 'application/pdf',
      created_from: '2026-01-01',
      size_min: 10,
      include_shared: true,
      sort: 'size',
      order: 'asc',
    })
    const { page: _page, ...rest } = url
    expect(routeFromViewQuery(view)).toEqual(rest)
    // What the server stores may spell values as strings; unknown keys are dropped.
    expect(routeFromViewQuery({ include_shared: 'true', size_max: 5, duplicates: false, colour: 'red', status: null })).toEqual({ shared: '1', max: '5' })
  })

  it('tells an empty vault, an empty folder and no match apart', () => {
    expect(emptyKind({})).toBe('vault')
    expect(emptyKind({ page: '2', sort: 'name' })).toBe('vault')
    expect(emptyKind({ folder: 'f1' })).toBe('folder')
    expect(emptyKind({ folder: 'f1', subfolders: '1' })).toBe('folder')
    expect(emptyKind({ folder: 'f1', type: 'image/png' })).toBe('nomatch')
    expect(emptyKind({ q: 'x' })).toBe('nomatch')
    expect(isFiltered({ sort: 'name' })).toBe(false)
    expect(isFiltered({ min: '1' })).toBe(true)
  })

  it('patches the query, back to page 1 unless the page is what changes', () => {
    expect(patchQuery({ q: 'x', page: '3', type: 'image/png' }, { type: undefined })).toEqual({ q: 'x' })
    expect(patchQuery({ q: 'x', page: '3' }, { page: '4' })).toEqual({ q: 'x', page: '4' })
    expect(patchQuery({ q: 'x' }, { from: '2026-01-01', to: '' })).toEqual({ q: 'x', from: '2026-01-01' })
  })

  it('compares views regardless of paging and key order', () => {
    expect(sameView({ q: 'x', type: 'a/b', page: '2' }, { type: 'a/b', q: 'x' })).toBe(true)
    expect(sameView({ q: 'x' }, { q: 'x', shared: '1' })).toBe(false)
  })
})
