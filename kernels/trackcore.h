/* kernels/trackcore.c: one track's per-sample path in C (StreamCore) and one vehicle's attitude path (AttitudeCore),
 * registered by kernels/cstream.c. */
#ifndef UAV_TRAJ_TRACKCORE_H
#define UAV_TRAJ_TRACKCORE_H
#include <Python.h>
extern PyTypeObject StreamCoreType;
extern PyTypeObject AttitudeCoreType;
#endif
