import { createApp, watch } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { useAuthStore } from './stores/auth'
import './style.css'

const app = createApp(App)
app.use(createPinia())
app.use(router)

// When the session ends on its own (refresh refused), go to the sign-in page.
const auth = useAuthStore()
watch(
  () => auth.user,
  (user, before) => {
    if (!user && before && router.currentRoute.value.meta.public !== true) {
      void router.push({ name: 'login' })
    }
  },
)

app.mount('#app')
