import { createApp, watch } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { useAuthStore } from './stores/auth'
import { useDocumentsStore } from './stores/documents'
import { useLibraryStore } from './stores/library'
import { useQuotaStore } from './stores/quota'
import { useUploadsStore } from './stores/uploads'
import './style.css'

const app = createApp(App)
app.use(createPinia())
app.use(router)

// When the session ends (sign-out, or a refused refresh): forget the account's data so
// the next person at this browser sees none of it, and go to the sign-in page.
const auth = useAuthStore()
watch(
  () => auth.user?.id,
  (user, before) => {
    if (before && user !== before) {
      const uploads = useUploadsStore()
      for (const item of uploads.items) uploads.cancel(item.key)
      uploads.$reset()
      useDocumentsStore().stopPolling()
      useDocumentsStore().$reset()
      useLibraryStore().$reset()
      useQuotaStore().$reset()
    }
    if (!user && before && router.currentRoute.value.meta.public !== true) {
      void router.push({ name: 'login' })
    }
  },
)

app.mount('#app')
