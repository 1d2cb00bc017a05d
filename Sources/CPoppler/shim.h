// poppler-glib (PDF rendering) and cairo, found through pkg-config "poppler-glib".
#include <poppler.h>
#include <cairo.h>
