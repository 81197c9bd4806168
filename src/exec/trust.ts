/**
 * Whether plugins may be run as root from directories that the user did not name (a record in the cluster did: anyone
 * who may write ConfigMaps in the agent namespace can write one, a much smaller right than running commands as root on
 * a node). The rule is the one this project holds a cache directory to (exec/local.ts untrustedDir, cni/cache.ts):
 * owned by root or by the user the commands run as, and not writable by group or others — applied here to every
 * directory of each path from / down, and to every file in each directory (not its subdirectories or dotfiles, which
 * no plugin type can name): a plugin also runs other plugins it finds in CNI_PATH itself (an IPAM plugin), and a file
 * that is not executable today is one its owner may make so: whoever may change any of them chooses what runs.
 *
 * Details, with their reasons:
 *  - A directory on the way (not the plugin directory itself) that group or others may write passes when it has the
 *    sticky bit (/tmp, mode 1777): others may then not rename or remove what root or this user owns in it (unlink(2),
 *    rename(2): EPERM), and the next directory of the path is checked to be such. The plugin directories themselves
 *    must not be writable by others at all, sticky or not: anyone could add a plugin there. This is how Kupsch and
 *    Miller's safe_is_path_trusted (the "safefile" library, "How to Open a File and Not Get Hacked", 2008) treats
 *    sticky directories.
 *  - Symbolic links are followed (stat), so a directory's owner and mode are those of what it names; a link itself
 *    must belong to root or this user (in a sticky directory its owner could replace it). What a link that root made
 *    points through is root's choice, as any path root set up is.
 *  - A directory of the path that does not exist passes when its parent may not be written by group or others (sticky
 *    or not: anyone may make a new name in a sticky directory): nobody else can make it, and no plugin is there.
 *  - A link to nothing fails: whoever may make its target chooses what is there.
 *
 * The facts come from lstat and stat of this host (exec/local.ts) or, on a node reached by commands, from one sh that
 * prints them (trustShell, parseTrust): the judgement (judgePluginDirs) is the same pure function for both.
 */

/** st_uid and st_mode (file type bits included) of a path. */
export interface StatFacts {
  uid: number;
  mode: number;
}

/** What judgePluginDirs needs to know of a node: who runs the plugins, lstat and stat of paths, the plugin files. */
export interface TrustFacts {
  /** The uid the plugins run as (the user of the command that read the facts). */
  me: number;
  /** lstat(2) of each path that exists (a link's own uid and mode). */
  lstat: Map<string, StatFacts>;
  /** stat(2) of each path whose target exists. */
  stat: Map<string, StatFacts>;
  /** The files of each plugin directory (what is not a directory, links included; no dotfiles), as full paths. */
  files: Map<string, string[]>;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const S_ISVTX = 0o1000;

/** A directory as the rule walks it: "/a/b/" → "/a/b" ("/" stays "/"). */
export function trustKey(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') || '/' : dir;
}

/** "/", "/a", "/a/b" for "/a/b": every directory a look-up of the path goes through, and the path. */
export function prefixesOf(dir: string): string[] {
  const out = ['/'];
  let p = '';
  for (const c of trustKey(dir).split('/').filter(Boolean)) out.push((p += `/${c}`));
  return out;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Why plugins in `dirs` must not be run (the first path that fails the rule of the file comment, named), or undefined
 * when they may. Pure.
 */
export function judgePluginDirs(dirs: string[], facts: TrustFacts): string | undefined {
  const mine = (uid: number) => uid === 0 || uid === facts.me;
  const owner = (p: string, uid: number, what = '') => `${p}${what} belongs to uid ${uid}, neither to root nor to uid ${facts.me}, who runs the plugins`;
  const writable = (s: StatFacts) => (s.mode & 0o022) !== 0;
  for (const dir of dirs.map(trustKey)) {
    const path = prefixesOf(dir);
    for (const [i, p] of path.entries()) {
      let l = facts.lstat.get(p);
      // no stat of what lstat saw, and it was no symbolic link: removed between the two stats (a record an attach
      // or detach removes on the node meanwhile): judged as not there, not as a link to nothing
      if (l && (l.mode & S_IFMT) !== S_IFLNK && !facts.stat.has(p)) l = undefined;
      if (!l) {
        const parent = facts.stat.get(path[i - 1]!);
        if (parent && writable(parent)) return `${p} does not exist, and group or others may write ${path[i - 1]} (mode ${octal(parent.mode)}), so anyone could make it`;
        break; // nobody else can make it: nothing is there to run
      }
      if ((l.mode & S_IFMT) === S_IFLNK && !mine(l.uid)) return owner(p, l.uid, ', a symbolic link,');
      const s = facts.stat.get(p);
      if (!s) return `${p} is a symbolic link to nothing: whoever may make what it names chooses what is there`;
      if ((s.mode & S_IFMT) !== S_IFDIR) break; // not a directory: nothing is found under it
      if (!mine(s.uid)) return owner(p, s.uid);
      if (writable(s) && (p === dir || (s.mode & S_ISVTX) === 0)) return `group or others may write ${p} (mode ${octal(s.mode)})`;
    }
    for (const f of facts.files.get(dir) ?? []) {
      const l = facts.lstat.get(f);
      if (!l) continue; // gone meanwhile
      if ((l.mode & S_IFMT) !== S_IFLNK && !facts.stat.has(f)) continue; // gone between the two stats
      if ((l.mode & S_IFMT) === S_IFLNK && !mine(l.uid)) return owner(f, l.uid, ', a symbolic link,');
      const s = facts.stat.get(f);
      if (!s) return `${f} is a symbolic link to nothing: whoever may make what it names chooses what is there`;
      if (!mine(s.uid)) return owner(f, s.uid);
      if (writable(s)) return `group or others may write ${f} (mode ${octal(s.mode)})`;
    }
  }
  return undefined;
}

/**
 * One sh script (its words: the directories, as shell words, e.g. `"${5}" "${6}"`) that prints the facts of those
 * directories for parseTrust: `u <uid>` (id -u), then `x <path>` for each file of each directory (TrustFacts.files),
 * then `l <uid> <hex mode> <path>` (stat -c, lstat) and `s …` (stat -L -c, stat) for each path that exists among
 * their prefixes (up to the first that does not) and those files. Three processes however many directories. A file
 * name holding a newline is left out (no plugin type holds one). Never fails: what could not be read is not printed
 * (no `u` line when id fails). Needs id, stat (coreutils or busybox).
 */
export function trustShell(dirWords: string): string {
  return [
    "nl='\n'; me=$(id -u) || exit 0; printf 'u %s\\n' \"$me\"; first=1",
    `for D in ${dirWords}; do`,
    '  if [ $first = 1 ]; then set -- /; first=0; fi',
    '  p=; r=${D#/}',
    '  while [ -n "$r" ]; do c=${r%%/*}; case $r in */*) r=${r#*/};; *) r=;; esac; [ -n "$c" ] || continue; p="$p/$c"; { [ -e "$p" ] || [ -h "$p" ]; } || break; set -- "$@" "$p"; done',
    '  [ -d "$D" ] || continue',
    '  for f in "${D%/}"/*; do case $f in *"$nl"*) continue;; esac; { [ -e "$f" ] || [ -h "$f" ]; } && ! [ -d "$f" ] || continue; printf \'x %s\\n\' "$f"; set -- "$@" "$f"; done',
    'done',
    '[ $first = 1 ] && exit 0',
    "stat -c 'l %u %f %n' -- \"$@\" 2>/dev/null; stat -L -c 's %u %f %n' -- \"$@\" 2>/dev/null; exit 0",
  ].join('\n');
}

/** The facts trustShell printed for `dirs`; undefined when its output is not that (no `u` line). */
export function parseTrust(stdout: string, dirs: string[]): TrustFacts | undefined {
  const facts: TrustFacts = { me: -1, lstat: new Map(), stat: new Map(), files: new Map(dirs.map((d) => [trustKey(d), []])) };
  for (const line of stdout.split('\n')) {
    const [tag, a, b] = line.split(' ', 3);
    if (tag === 'u') facts.me = Number(a);
    else if (tag === 'x') {
      const f = line.slice(2);
      const d = f.slice(0, f.lastIndexOf('/')) || '/';
      facts.files.get(d)?.push(f);
    } else if ((tag === 'l' || tag === 's') && a !== undefined && b !== undefined) {
      const path = line.slice(tag.length + a.length + b.length + 3);
      (tag === 'l' ? facts.lstat : facts.stat).set(path, { uid: Number(a), mode: parseInt(b, 16) });
    }
  }
  return Number.isInteger(facts.me) && facts.me >= 0 ? facts : undefined;
}

/** What trustShell prints for these facts (for fakes). */
export function trustOutput(facts: TrustFacts): string {
  const lines = [`u ${facts.me}`];
  for (const fs of facts.files.values()) for (const f of fs) lines.push(`x ${f}`);
  for (const [tag, m] of [['l', facts.lstat], ['s', facts.stat]] as const) for (const [p, s] of m) lines.push(`${tag} ${s.uid} ${s.mode.toString(16)} ${p}`);
  return `${lines.join('\n')}\n`;
}
