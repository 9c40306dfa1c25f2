# Sourced by the scripts: lets Open MPI run as root (containers, CI) and sets MPIRUN_OPTS for
# N ranks on this machine: each rank bound to cores/N cores, oversubscribing when needed.
#   mpi_opts N   -> fills the array MPIRUN_OPTS
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpi_opts() {
    local n=$1 cores
    cores=$(nproc)
    if [ "$cores" -ge "$n" ]; then
        MPIRUN_OPTS=(-np "$n" --map-by "slot:PE=$((cores / n))")
    else
        MPIRUN_OPTS=(-np "$n" --oversubscribe --bind-to none)
    fi
}
