# Run by `cmake --install` (install(SCRIPT)), so the paths are the install-time prefix's
# (`cmake --install build --prefix /usr` as scripts/package.sh does): the systemd units and the
# logrotate file with that prefix's binary and configuration folder, and the default
# configuration, installed once (an administrator's edits are kept).
# In: W2P_SOURCE_DIR and W2P_BINARY_DIR (set by install(CODE) before this script).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconf "/etc")  # as GNUInstallDirs does for /usr
else()
  set(sysconf "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(stage "${W2P_BINARY_DIR}/installed")
foreach(unit w2pserve.service w2pserve.socket w2pserve.logrotate)
  file(READ "${W2P_SOURCE_DIR}/conf/${unit}" text)
  string(REPLACE "/usr/bin/w2pserve" "${CMAKE_INSTALL_PREFIX}/bin/w2pserve" text "${text}")
  string(REPLACE "/etc/w2pserve/" "${sysconf}/w2pserve/" text "${text}")
  file(WRITE "${stage}/${unit}" "${text}")
endforeach()
file(INSTALL "${stage}/w2pserve.service" "${stage}/w2pserve.socket"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
file(INSTALL "${stage}/w2pserve.logrotate" DESTINATION "${sysconf}/logrotate.d"
     RENAME w2pserve)
if(EXISTS "$ENV{DESTDIR}${sysconf}/w2pserve/w2pserve.toml")
  message(STATUS "Kept: $ENV{DESTDIR}${sysconf}/w2pserve/w2pserve.toml")
else()
  file(INSTALL "${W2P_SOURCE_DIR}/conf/etc-w2pserve.toml" DESTINATION "${sysconf}/w2pserve"
       RENAME w2pserve.toml)
endif()
