import { MemoryObject } from './memory-object.js';

/** Identifies one file as /proc/PID/maps shows it: the name it was opened by, its device and inode. */
export interface FileIdentity {
  readonly path: string;
  readonly major: number;
  readonly minor: number;
  readonly inode: number;
  readonly thpUnmappedArea: boolean;
}

/**
 * The kernel's page cache of the files it maps itself (execve's programs and interpreters): one
 * `MemoryObject` per file, so two processes running the same program share its pages. Linux keys
 * the cache by inode alone and names a mapping by the dentry it was opened through; an object here
 * carries its name, so the key includes it (two hard links of one file are two objects).
 */
export class PageCache {
  private readonly objects = new Map<string, MemoryObject>();

  /** The object of `file`, made on first use; `created` says whether it is new. */
  lookup(file: FileIdentity): { object: MemoryObject; created: boolean } {
    const key = `${file.major}:${file.minor}:${file.inode}:${file.path}`;
    const have = this.objects.get(key);
    if (have !== undefined) return { object: have, created: false };
    const object = new MemoryObject(file.path, file.major, file.minor, file.inode, 'file', {
      placement: file.thpUnmappedArea ? 'thp' : 'none',
    });
    this.objects.set(key, object);
    return { object, created: true };
  }

  /** Drops an object made by a `lookup` whose caller gave up before anything mapped it. */
  forget(object: MemoryObject): void {
    if (object.mappers > 0 || object.pages.size > 0) return;
    this.objects.delete(`${object.major}:${object.minor}:${object.inode}:${object.path}`);
  }

  get size(): number {
    return this.objects.size;
  }
}
