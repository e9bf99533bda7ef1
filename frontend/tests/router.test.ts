import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { guard, router } from '@/router'
import { useAuthStore } from '@/stores/auth'
import { USER } from './helpers'

const to = (path: string) => router.resolve(path)

beforeEach(() => setActivePinia(createPinia()))

describe('route guard', () => {
  it('sends signed-out visitors to the sign-in page, remembering where they were going', () => {
    expect(guard(to('/documents/abc'))).toEqual({ name: 'login', query: { next: '/documents/abc' } })
    expect(guard(to('/login'))).toBeNull()
    expect(guard(to('/register'))).toBeNull()
  })

  it('holds an account with a pending password change on the change page', () => {
    useAuthStore().user = { ...USER, password_must_change: true }
    expect(guard(to('/'))).toEqual({ name: 'change-password' })
    expect(guard(to('/admin'))).toEqual({ name: 'change-password' })
    expect(guard(to('/change-password'))).toBeNull()
  })

  it('shows administrators only the admin screens', () => {
    useAuthStore().user = { ...USER, role: 'admin' }
    expect(guard(to('/'))).toEqual({ name: 'admin-users' })
    expect(guard(to('/shared'))).toEqual({ name: 'admin-users' })
    expect(guard(to('/admin/audit'))).toBeNull()
    expect(guard(to('/login'))).toEqual({ name: 'admin-users' })
  })

  it('keeps regular users out of the admin screens', () => {
    useAuthStore().user = { ...USER }
    // Their landing page is the home page (issue 16); the list is at /documents.
    expect(guard(to('/admin'))).toEqual({ name: 'home' })
    expect(guard(to('/settings'))).toBeNull()
    expect(guard(to('/documents'))).toBeNull()
    expect(guard(to('/change-password'))).toEqual({ name: 'home' })
  })

  it('opens a public link page for anyone, signed in or not, without redirects', () => {
    expect(guard(to('/l/abc_DEF-123'))).toBeNull()
    useAuthStore().user = { ...USER }
    expect(guard(to('/l/abc_DEF-123'))).toBeNull()
    useAuthStore().user = { ...USER, role: 'admin' }
    expect(guard(to('/l/abc_DEF-123'))).toBeNull()
    useAuthStore().user = { ...USER, password_must_change: true }
    expect(guard(to('/l/abc_DEF-123'))).toBeNull()
  })
})
