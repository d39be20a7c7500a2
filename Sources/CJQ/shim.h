// Debian's libjq-dev ships jq.h/jv.h but no pkg-config file, so the module map links `jq` directly.
#include <jq.h>
#include <jv.h>
