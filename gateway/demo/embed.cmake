# Generates the C file that holds the demo page's whole HTTP response (gateway/demo_page.h:
# demo_page_response[]) from gateway/demo/index.html, so the gateway serves it without any
# file next to the binary.
#   cmake -DPAGE=<index.html> -DOUTPUT=<file.c> -P embed.cmake
#
# The Content-Security-Policy allows the page's one inline <style> and one inline <script>
# by their SHA-256 (computed here, base64 as CSP wants it) and nothing else but connections
# to the page's own origin, which in CSP Level 3 includes ws:// and wss:// to the same host
# and port. So the page must keep to what that policy lets run, and this script refuses a
# page that would silently break under it: exactly one <style> and one <script> without
# attributes, no style="" or on*="" attributes, printable ASCII only (the hash is of bytes;
# ASCII keeps CMake's string handling byte-exact).

# Base64 (RFC 4648, with padding) of the bytes written as hex in `hex`.
function(hex_to_base64 hex out)
  set(alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  string(LENGTH "${hex}" hex_len)
  set(result "")
  set(i 0)
  while(i LESS hex_len)
    math(EXPR left "${hex_len} - ${i}")
    if(left GREATER_EQUAL 6)
      string(SUBSTRING "${hex}" ${i} 6 group)
      set(chars 4)
    elseif(left EQUAL 4)
      string(SUBSTRING "${hex}" ${i} 4 group)
      string(APPEND group "00")
      set(chars 3)
    else()
      string(SUBSTRING "${hex}" ${i} 2 group)
      string(APPEND group "0000")
      set(chars 2)
    endif()
    math(EXPR value "0x${group}")
    foreach(shift 18 12 6 0)
      if(chars GREATER 0)
        math(EXPR index "(${value} >> ${shift}) & 63")
        string(SUBSTRING "${alphabet}" ${index} 1 c)
        string(APPEND result "${c}")
        math(EXPR chars "${chars} - 1")
      else()
        string(APPEND result "=")
      endif()
    endforeach()
    math(EXPR i "${i} + 6")
  endwhile()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

# The text between the only `open` tag and the `close` tag after it; fails unless there is
# exactly one of each.
function(only_element page open close out)
  string(FIND "${page}" "${open}" first)
  string(FIND "${page}" "${open}" last REVERSE)
  string(FIND "${page}" "${close}" end)
  string(FIND "${page}" "${close}" end_last REVERSE)
  if(first EQUAL -1 OR NOT first EQUAL last OR end EQUAL -1 OR NOT end EQUAL end_last
     OR end LESS first)
    message(FATAL_ERROR "${PAGE}: needs exactly one ${open}...${close} (the CSP allows one)")
  endif()
  string(LENGTH "${open}" open_len)
  math(EXPR start "${first} + ${open_len}")
  math(EXPR len "${end} - ${start}")
  string(SUBSTRING "${page}" ${start} ${len} content)
  set(${out} "${content}" PARENT_SCOPE)
endfunction()

file(READ ${PAGE} page)
file(READ ${PAGE} page_hex HEX)
string(REGEX MATCH "[^\t\n\r -~]" bad "${page}")
if(NOT bad STREQUAL "")
  message(FATAL_ERROR "${PAGE}: only printable ASCII (use &entities; in HTML, \\u escapes in JS)")
endif()
string(LENGTH "${page_hex}" page_hex_len)
math(EXPR page_bytes "${page_hex_len} / 2")
string(LENGTH "${page}" page_len)
if(NOT page_len EQUAL page_bytes)
  message(FATAL_ERROR "${PAGE}: read ${page_len} characters of ${page_bytes} bytes")
endif()
foreach(tag script style)
  string(REGEX MATCHALL "<${tag}" opens "${page}")
  list(LENGTH opens count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "${PAGE}: ${count} <${tag}> elements; the CSP allows exactly one, inline")
  endif()
endforeach()
string(REGEX MATCH "<[A-Za-z][^>]*[ \t\n](style|on[a-z]+)=" attribute "${page}")
if(NOT attribute STREQUAL "")
  message(FATAL_ERROR "${PAGE}: `${attribute}`: the CSP blocks style and event attributes")
endif()

only_element("${page}" "<script>" "</script>" script)
only_element("${page}" "<style>" "</style>" style)
string(SHA256 script_sha "${script}")
string(SHA256 style_sha "${style}")
hex_to_base64(${script_sha} script_b64)
hex_to_base64(${style_sha} style_b64)

set(csp "default-src 'none'; script-src 'sha256-${script_b64}'; style-src 'sha256-${style_b64}'")
string(APPEND csp "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'")
string(APPEND csp "; frame-ancestors 'none'")
set(head "HTTP/1.1 200 OK\r\n")
string(APPEND head "Content-Type: text/html; charset=utf-8\r\n")
string(APPEND head "Content-Length: ${page_bytes}\r\n")
string(APPEND head "Cache-Control: no-store\r\n")
string(APPEND head "Content-Security-Policy: ${csp}\r\n")
string(APPEND head "X-Content-Type-Options: nosniff\r\n")
string(APPEND head "Referrer-Policy: no-referrer\r\n")
string(APPEND head "Connection: close\r\n\r\n")
string(HEX "${head}" head_hex)
string(LENGTH "${head}" head_bytes)

string(CONCAT hex "${head_hex}" "${page_hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n    "
       bytes "${bytes}")
math(EXPR total "${head_bytes} + ${page_bytes}")
file(WRITE ${OUTPUT}
     "/* Generated from gateway/demo/index.html by gateway/demo/embed.cmake. */\n"
     "#include \"gateway/demo_page.h\"\n\n"
     "const char demo_page_response[] = {\n    ${bytes}0x00};\n"
     "const size_t demo_page_response_bytes = ${total};\n"
     "const size_t demo_page_head_bytes = ${head_bytes};\n")
