#ifndef C_RESIDENT_MEMORY_H
#define C_RESIDENT_MEMORY_H

/// How many read-only mappings of the executable the start-up constructor advised
/// MADV_RANDOM (0: /proc unreadable or nothing advised; the program runs the same).
int spaak_resident_memory_advised(void);

#endif
