"""An object-storage output written under a staging prefix beside its shards and moved
into place once every shard is written, so that a failed run (a shard's write failing,
Ctrl-C, SIGTERM) leaves nothing of itself in the output folder.

`OUT/.trlprep-staging-<host>-<pid>-<random>/` holds the shards while they are written; when
all are there each is moved to `OUT/{split}-i-of-n` (a rename on a local or HDFS folder,
copy + delete on object stores, which have no rename), then the prefix is removed. On any
failure the prefix is removed (and `OUT` itself where this run created it; a failure while
moving also removes the shards moved so far).
Object stores have no rename of several objects at once: while the shards are moved (a
copy each, seconds) a reader listing `OUT` can see some of them, and a process killed
outright (SIGKILL) leaves the staging prefix behind (hidden: no trlprep input reads it).
"""

from trlprep.io.remote import PREFIX, Staging, move

__all__ = ["PREFIX", "Staging", "move"]
