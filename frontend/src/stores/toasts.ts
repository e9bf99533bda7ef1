import { defineStore } from 'pinia'

export interface Toast {
  id: number
  kind: 'info' | 'success' | 'error'
  text: string
  /** A button in the toast (e.g. "Undo"); clicking it runs `run` and closes the toast. */
  action?: ToastAction
}

export interface ToastAction {
  label: string
  run: () => unknown
}

let next = 1

/** Short notices in the corner (announced to screen readers). */
export const useToastStore = defineStore('toasts', {
  state: () => ({ items: [] as Toast[] }),
  actions: {
    push(text: string, kind: Toast['kind'] = 'info', ms = 4500, action?: ToastAction): number {
      const id = next++
      this.items.push(action ? { id, kind, text, action } : { id, kind, text })
      setTimeout(() => this.dismiss(id), ms)
      return id
    },
    /** A success notice with a button, shown long enough to reach it (8 s). */
    withAction(text: string, action: ToastAction): number {
      return this.push(text, 'success', 8000, action)
    },
    /** Runs a toast's action once and closes the toast. */
    act(id: number): void {
      const t = this.items.find((x) => x.id === id)
      this.dismiss(id)
      t?.action?.run()
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
