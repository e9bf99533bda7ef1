import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import AppLayout from '@/views/AppLayout.vue'
import DocumentsView from '@/views/DocumentsView.vue'
import LoginView from '@/views/LoginView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in (sign-in and sign-up pages). */
    public?: boolean
    /** Only for administrators. */
    admin?: boolean
    /** Allowed while a password change is pending. */
    passwordChange?: boolean
    /** Reachable by both kinds of account. */
    anyRole?: boolean
    /** Reachable by anyone, signed in or not, without redirects (a public link's page). */
    anyone?: boolean
    title?: string
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: 'Sign in' } },
    {
      path: '/register',
      name: 'register',
      component: () => import('@/views/RegisterView.vue'),
      meta: { public: true, title: 'Create account' },
    },
    {
      path: '/forgot-password',
      name: 'forgot-password',
      component: () => import('@/views/ForgotPasswordView.vue'),
      meta: { public: true, title: 'Forgot password' },
    },
    {
      path: '/reset-password',
      name: 'reset-password',
      component: () => import('@/views/ResetPasswordView.vue'),
      meta: { public: true, title: 'Reset password' },
    },
    {
      path: '/l/:token',
      name: 'public-link',
      component: () => import('@/views/PublicLinkView.vue'),
      meta: { public: true, anyone: true, title: 'Shared document' },
    },
    {
      path: '/change-password',
      name: 'change-password',
      component: () => import('@/views/ChangePasswordView.vue'),
      meta: { passwordChange: true, anyRole: true, title: 'Change password' },
    },
    {
      path: '/',
      component: AppLayout,
      children: [
        { path: '', name: 'home', component: () => import('@/views/HomeView.vue'), meta: { title: 'Home' } },
        { path: 'documents', name: 'documents', component: DocumentsView, meta: { title: 'Documents' } },
        {
          path: 'documents/:id',
          name: 'document',
          component: () => import('@/views/DocumentDetailView.vue'),
          meta: { title: 'Document' },
        },
        {
          path: 'shared',
          name: 'shared',
          component: () => import('@/views/SharedView.vue'),
          meta: { title: 'Shared with me' },
        },
        {
          path: 'trash',
          name: 'trash',
          component: () => import('@/views/TrashView.vue'),
          meta: { title: 'Trash' },
        },
        {
          path: 'organize',
          name: 'organize',
          component: () => import('@/views/OrganizeView.vue'),
          meta: { title: 'Topics & folders' },
        },
        {
          path: 'settings',
          name: 'settings',
          component: () => import('@/views/settings/SettingsView.vue'),
          meta: { title: 'Settings' },
        },
      ],
    },
    {
      path: '/admin',
      component: () => import('@/views/admin/AdminLayout.vue'),
      meta: { admin: true },
      children: [
        {
          path: '',
          name: 'admin-users',
          component: () => import('@/views/admin/AdminUsersView.vue'),
          meta: { admin: true, title: 'Users' },
        },
        {
          path: 'audit',
          name: 'admin-audit',
          component: () => import('@/views/admin/AdminAuditView.vue'),
          meta: { admin: true, title: 'Audit log' },
        },
        {
          path: 'topics',
          name: 'admin-topics',
          component: () => import('@/views/admin/AdminTopicsView.vue'),
          meta: { admin: true, title: 'System topics' },
        },
        {
          path: 'account',
          name: 'admin-account',
          component: () => import('@/views/settings/SettingsView.vue'),
          meta: { admin: true, title: 'My account' },
        },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
  scrollBehavior: () => ({ top: 0 }),
})

/** Where a route may go for the signed-in state: null = allowed. */
export function guard(to: Pick<RouteLocationNormalized, 'meta' | 'fullPath'>): string | { name: string; query?: Record<string, string> } | null {
  if (to.meta.anyone) return null
  const auth = useAuthStore()
  if (!auth.signedIn) {
    if (to.meta.public) return null
    return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  }
  if (auth.mustChangePassword) return to.meta.passwordChange ? null : { name: 'change-password' }
  if (to.meta.public || to.meta.passwordChange) return auth.isAdmin ? { name: 'admin-users' } : { name: 'home' }
  if (to.meta.anyRole) return null
  if (auth.isAdmin && !to.meta.admin) return { name: 'admin-users' }
  if (!auth.isAdmin && to.meta.admin) return { name: 'home' }
  return null
}

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  await auth.init()
  const target = guard(to)
  if (target === null) return true
  if (typeof target === 'string') return target
  return target
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · DocuVault` : 'DocuVault'
})
