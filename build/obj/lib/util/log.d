build/obj/lib/util/log.o: lib/util/log.c include/dataline/log.h
include/dataline/log.h:
