import { computed, onBeforeUnmount, ref } from 'vue'

/** A countdown for "rate limited, wait N s" that re-enables the form by itself. */
export function useCooldown() {
  const until = ref(0)
  const now = ref(Date.now())
  let timer: ReturnType<typeof setInterval> | null = null
  const remaining = computed(() => Math.max(0, Math.ceil((until.value - now.value) / 1000)))
  function start(seconds: number) {
    until.value = Date.now() + seconds * 1000
    now.value = Date.now()
    if (timer) clearInterval(timer)
    timer = setInterval(() => {
      now.value = Date.now()
      if (remaining.value <= 0 && timer) {
        clearInterval(timer)
        timer = null
      }
    }, 500)
  }
  onBeforeUnmount(() => {
    if (timer) clearInterval(timer)
  })
  return { remaining, start }
}
