/* kernels/trackcore.c: one track's per-sample path in C (StreamCore), registered by kernels/cstream.c. */
#ifndef UAV_TRAJ_TRACKCORE_H
#define UAV_TRAJ_TRACKCORE_H
#include <Python.h>
extern PyTypeObject StreamCoreType;
#endif
