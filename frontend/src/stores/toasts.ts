import { defineStore } from 'pinia'

export interface Toast {
  id: number
  kind: 'info' | 'success' | 'error'
  text: string
}

let next = 1

/** Short notices in the corner (announced to screen readers). */
export const useToastStore = defineStore('toasts', {
  state: () => ({ items: [] as Toast[] }),
  actions: {
    push(text: string, kind: Toast['kind'] = 'info', ms = 4500): void {
      const id = next++
      this.items.push({ id, kind, text })
      setTimeout(() => this.dismiss(id), ms)
    },
    success(text: string): void {
      this.push(text, 'success')
    },
    error(text: string): void {
      this.push(text, 'error', 7000)
    },
    dismiss(id: number): void {
      this.items = this.items.filter((t) => t.id !== id)
    },
  },
})
