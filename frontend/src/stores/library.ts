import { defineStore } from 'pinia'
import { api } from '@/api/client'
import type {
  CreateFolderRequest,
  CreateTopicRequest,
  FolderList,
  FolderView,
  TopicList,
  TopicView,
  UpdateFolderRequest,
  UpdateTopicRequest,
} from '@/api/types'

export interface FolderNode {
  folder: FolderView
  depth: number
  children: FolderNode[]
}

/** Builds the folder tree from the flat list (parents before children, by name). */
export function buildTree(folders: FolderView[]): FolderNode[] {
  const byParent = new Map<string | null, FolderView[]>()
  const ids = new Set(folders.map((f) => f.id))
  for (const f of folders) {
    const parent = f.parent_id && ids.has(f.parent_id) ? f.parent_id : null
    const list = byParent.get(parent) ?? []
    list.push(f)
    byParent.set(parent, list)
  }
  const walk = (parent: string | null, depth: number): FolderNode[] =>
    (byParent.get(parent) ?? [])
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }))
      .map((folder) => ({ folder, depth, children: depth > 32 ? [] : walk(folder.id, depth + 1) }))
  return walk(null, 0)
}

/** Depth-first flattening, for selects and indented lists. */
export function flattenTree(nodes: FolderNode[]): FolderNode[] {
  return nodes.flatMap((n) => [n, ...flattenTree(n.children)])
}

/** The user's topics and folders (sidebar, filters, pickers). */
export const useLibraryStore = defineStore('library', {
  state: () => ({
    topics: [] as TopicView[],
    folders: [] as FolderView[],
    loaded: false,
  }),
  getters: {
    tree: (s) => buildTree(s.folders),
    flatFolders(): FolderNode[] {
      return flattenTree(this.tree)
    },
    topicById: (s) => (id: string) => s.topics.find((t) => t.id === id),
    folderById: (s) => (id: string | null | undefined) => (id ? s.folders.find((f) => f.id === id) : undefined),
  },
  actions: {
    async load(): Promise<void> {
      await Promise.all([this.loadTopics(), this.loadFolders()])
      this.loaded = true
    },
    async loadTopics(): Promise<void> {
      this.topics = (await api.get<TopicList>('/api/topics')).items
    },
    async loadFolders(): Promise<void> {
      this.folders = (await api.get<FolderList>('/api/folders')).items
    },
    async createTopic(body: CreateTopicRequest): Promise<TopicView> {
      const t = await api.post<TopicView>('/api/topics', body)
      await this.loadTopics()
      return t
    },
    async updateTopic(id: string, body: UpdateTopicRequest): Promise<void> {
      await api.patch(`/api/topics/${id}`, body)
      await this.loadTopics()
    },
    async deleteTopic(id: string): Promise<void> {
      await api.del(`/api/topics/${id}`)
      await this.loadTopics()
    },
    async createFolder(body: CreateFolderRequest): Promise<FolderView> {
      const f = await api.post<FolderView>('/api/folders', body)
      await this.loadFolders()
      return f
    },
    async updateFolder(id: string, body: UpdateFolderRequest): Promise<void> {
      await api.patch(`/api/folders/${id}`, body)
      await this.loadFolders()
    },
    async deleteFolder(id: string): Promise<void> {
      await api.del(`/api/folders/${id}`)
      await this.loadFolders()
    },
  },
})
