"""Linux errno values the host functions return, negated (spec 2.1)."""

EPERM = 1
ENOENT = 2
EINTR = 4
EIO = 5
ENOMEM = 12
EBUSY = 16
ENODEV = 19
EINVAL = 22
ENOSPC = 28
ENOMSG = 42
EMSGSIZE = 90
