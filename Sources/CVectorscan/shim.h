// Vectorscan (Debian libvectorscan-dev): Hyperscan's C API, a multi-pattern regex engine that runs in time
// linear in the text and refuses what it cannot run so (back-references, look-around).
#include <hs.h>
